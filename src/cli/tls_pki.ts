import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

// tls_pki.ts: a throw-away certificate authority for `npm start -- --tls`, `qklzl bench --tls` and the TLS
// tests. node:crypto can make keys but cannot create X.509 certificates, so this runs the openssl binary
// (present on Debian/Ubuntu, macOS). Every certificate is valid for 127.0.0.1 and localhost, for both
// server and client authentication, so one pair serves a node's HTTP port, its peer port and its own calls.
// Never use these outside a laptop or a test: the CA key lies next to the certificates, unencrypted.

export interface CertPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  ca: CertPair;
}

/** opensslPath: the openssl binary on PATH, or null (callers say what they skip). */
export function opensslPath(): string | null {
  return Bun.which("openssl");
}

function openssl(args: string[], cwd: string): void {
  const bin = opensslPath();
  if (bin === null) throw new Error("openssl is not on PATH: it is needed to create X.509 certificates (node:crypto cannot)");
  const run = Bun.spawnSync([bin, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr.toString().trim()}`);
}

/** makeCa creates dir/ca.crt and dir/ca.key (EC P-256, `days` valid). */
export function makeCa(dir: string, name = "qklzl throw-away CA", days = 3650): Pki {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: path.join(dir, "ca.crt"), key: path.join(dir, "ca.key") };
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca.key, "-out", ca.cert, "-days", String(days), "-subj", `/CN=${name}`], dir);
  return { dir, ca };
}

/**
 * issue signs a new key pair for `name` with the CA: dir/NAME.crt, dir/NAME.key. `days` may be negative,
 * for an already expired certificate (tests). Each call gets a fresh random serial.
 */
export function issue(pki: Pki, name: string, options: { days?: number; dir?: string } = {}): CertPair {
  const dir = options.dir ?? pki.dir;
  mkdirSync(dir, { recursive: true });
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", pair.key, "-out", csr, "-subj", `/CN=${name}`], dir);
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // a positive DER integer
  const serial = `0x${Buffer.from(bytes).toString("hex")}`;
  openssl(["x509", "-req", "-in", csr, "-CA", pki.ca.cert, "-CAkey", pki.ca.key, "-set_serial", serial, "-out", pair.cert, "-days", String(options.days ?? 825), "-extfile", ext], dir);
  return pair;
}
