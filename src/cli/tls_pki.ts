import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

/** ClusterTls: a local cluster's certificates, as node flags, the launcher's client side and a CLI client pair. */
export interface ClusterTls {
  pki: Pki;
  /** nodeArgs: node `id`'s TLS flags (its own certificate on the HTTP and the peer port). */
  nodeArgs(id: number): string[];
  /** http: how a launcher polls the nodes (https, the CA, the client certificate). */
  http: { https: true; tls: { ca: string; cert: string; key: string } };
  /** client: files for `qklzl --cacert … --cert … --key …` and curl. */
  client: CertPair & { ca: string };
}

/**
 * clusterTls makes (or reuses, when dir/ca.crt exists) a CA under dir and one certificate per node id plus a
 * "client" one. clientCertAuth adds --client-cert-auth (mutual TLS on the HTTP API too).
 */
export function clusterTls(dir: string, ids: readonly number[], options: { clientCertAuth?: boolean } = {}): ClusterTls {
  const pki = existsSync(path.join(dir, "ca.crt")) && existsSync(path.join(dir, "ca.key"))
    ? { dir, ca: { cert: path.join(dir, "ca.crt"), key: path.join(dir, "ca.key") } }
    : makeCa(dir);
  const pairs = new Map<number, CertPair>();
  for (const id of ids) {
    const existing = { cert: path.join(dir, `node${id}.crt`), key: path.join(dir, `node${id}.key`) };
    pairs.set(id, existsSync(existing.cert) && existsSync(existing.key) ? existing : issue(pki, `node${id}`));
  }
  const clientPaths = { cert: path.join(dir, "client.crt"), key: path.join(dir, "client.key") };
  const client = existsSync(clientPaths.cert) && existsSync(clientPaths.key) ? clientPaths : issue(pki, "client");
  return {
    pki,
    nodeArgs: (id) => {
      const pair = pairs.get(id);
      if (pair === undefined) throw new Error(`no certificate for node ${id}`);
      return [
        "--cert-file", pair.cert, "--key-file", pair.key, "--trusted-ca-file", pki.ca.cert,
        ...(options.clientCertAuth === true ? ["--client-cert-auth"] : []),
        "--peer-cert-file", pair.cert, "--peer-key-file", pair.key, "--peer-trusted-ca-file", pki.ca.cert,
      ];
    },
    http: { https: true, tls: { ca: readFileSync(pki.ca.cert, "utf8"), cert: readFileSync(client.cert, "utf8"), key: readFileSync(client.key, "utf8") } },
    client: { ...client, ca: pki.ca.cert },
  };
}
