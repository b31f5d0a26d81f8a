// Certificate expiry: a warning in the log and a gauge in /metrics well before a certificate runs out.
import type { CertInfo } from "./load.ts";

/** cert_expiry_warn_ms: warn when a certificate expires within this (14 days). */
export const cert_expiry_warn_ms = 14 * 24 * 3600 * 1000;

/** expiryWarnings: one line per certificate that has expired or expires within cert_expiry_warn_ms. */
export function expiryWarnings(certs: readonly CertInfo[], nowMs: number): string[] {
  const lines: string[] = [];
  for (const c of certs) {
    const left = c.notAfterMs - nowMs;
    const when = new Date(c.notAfterMs).toISOString();
    if (left <= 0) lines.push(`${c.role} certificate ${c.path} (serial ${c.serial}) EXPIRED at ${when}: peers and clients will refuse it; replace it and send SIGHUP`);
    else if (left <= cert_expiry_warn_ms) lines.push(`${c.role} certificate ${c.path} (serial ${c.serial}) expires in ${(left / 86_400_000).toFixed(1)} days (${when}); replace it and send SIGHUP`);
  }
  return lines;
}

/** expiryMetricLines: qklzl_cert_expiry_seconds{role,path}: seconds until notAfter (negative once expired). */
export function expiryMetricLines(certs: readonly CertInfo[], nowMs: number): string[] {
  if (certs.length === 0) return [];
  const lines = [
    "# HELP qklzl_cert_expiry_seconds Seconds until the certificate's notAfter (negative: expired).",
    "# TYPE qklzl_cert_expiry_seconds gauge",
  ];
  for (const c of certs) {
    const path = c.path.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
    lines.push(`qklzl_cert_expiry_seconds{role="${c.role}",path="${path}"} ${Math.round((c.notAfterMs - nowMs) / 1000)}`);
  }
  return lines;
}
