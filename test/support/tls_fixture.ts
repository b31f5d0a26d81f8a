// TLS test fixture: throw-away CAs and certificates made with openssl at test time in a temp dir.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { issue, makeCa, opensslPath, type CertPair, type Pki } from "../../src/cli/tls_pki.ts";
import type { PeerTls } from "../../src/transport/index.ts";

/** openssl_missing: the line a TLS test prints when it has to skip (certificates need the openssl binary). */
export const openssl_missing = opensslPath() === null ? "SKIP: openssl is not on PATH; TLS tests need it to create X.509 certificates" : null;
if (openssl_missing !== null) console.warn(openssl_missing);

export interface TlsFixture {
  root: string;
  /** ca: the cluster's CA; other: a second, unrelated CA (a stranger's certificates). */
  ca: Pki;
  other: Pki;
  issue(name: string, options?: { days?: number; by?: "ca" | "other" }): CertPair;
  /** pem reads a pair (and the cluster CA) as the PEM texts the transport takes. */
  pem(pair: CertPair, ca?: Pki): PeerTls;
  cleanup(): void;
}

export function tlsFixture(): TlsFixture {
  const root = mkdtempSync(path.join(tmpdir(), "qklzl-tls-"));
  const ca = makeCa(path.join(root, "ca"), "qklzl test CA");
  const other = makeCa(path.join(root, "other"), "someone else's CA");
  let n = 0;
  return {
    root,
    ca,
    other,
    issue: (name, options = {}) => issue(options.by === "other" ? other : ca, name, { days: options.days, dir: path.join(root, `certs${++n}`) }),
    pem: (pair, authority = ca) => ({
      cert: readFileSync(pair.cert, "utf8"),
      key: readFileSync(pair.key, "utf8"),
      ca: readFileSync(authority.ca.cert, "utf8"),
    }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** servedSerial connects with TLS to addr and returns the serial number of the certificate the server presents. */
export async function servedSerial(addr: string, options: { ca: string; cert?: string; key?: string }): Promise<string> {
  const tls = await import("node:tls");
  const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
  return new Promise<string>((resolve, reject) => {
    const socket = tls.connect({ host, port, ca: options.ca, cert: options.cert, key: options.key, servername: "localhost" }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.end();
      resolve(serial);
    });
    socket.on("error", reject);
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error(`no TLS handshake with ${addr} within 5 s`));
    });
  });
}
