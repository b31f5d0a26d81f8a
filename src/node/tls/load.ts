// loadNodeTls reads and checks a node's TLS files: every certificate parses, each key matches its
// certificate, and the CAs parse. Nothing is half-applied: a reload with a bad file keeps the old material.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PeerTls } from "../../transport/index.ts";
import type { HttpTls, MemberHttp } from "./types.ts";
import type { NodeTlsFiles } from "./files.ts";

/** CertInfo: what the expiry check and the metrics need of one certificate. */
export interface CertInfo {
  /** role: "http" (--cert-file) or "peer" (--peer-cert-file). */
  role: "http" | "peer";
  path: string;
  serial: string;
  subject: string;
  notAfterMs: number;
}

export interface NodeTls {
  http: HttpTls | null;
  peer: PeerTls | null;
  /** memberHttp: how this node calls other members' HTTP APIs (https + CA + its client certificate). */
  memberHttp: MemberHttp;
  certs: CertInfo[];
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${what} ${path}: ${(error as Error & { code?: string }).code ?? (error as Error).message}`);
  }
}

/** checkPair parses the certificate, checks the key belongs to it, and describes it. */
function checkPair(role: CertInfo["role"], certPath: string, cert: string, keyPath: string, key: string): CertInfo {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`${certPath} is not a PEM certificate: ${(error as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new Error(`${keyPath} is not a PEM private key: ${(error as Error).message}`);
  }
  if (!matches) throw new Error(`${keyPath} is not the private key of ${certPath}`);
  const notAfterMs = Date.parse(x509.validTo);
  if (!Number.isFinite(notAfterMs)) throw new Error(`${certPath}: cannot read its notAfter (${x509.validTo})`);
  return { role, path: certPath, serial: x509.serialNumber, subject: x509.subject.replace(/\n/g, ", "), notAfterMs };
}

function checkCa(path: string, pem: string): void {
  try {
    new X509Certificate(pem);
  } catch (error) {
    throw new Error(`${path} is not a PEM CA certificate: ${(error as Error).message}`);
  }
}

export function loadNodeTls(files: NodeTlsFiles): NodeTls {
  const certs: CertInfo[] = [];
  let http: HttpTls | null = null;
  let peer: PeerTls | null = null;
  let memberHttp: MemberHttp = { https: false };
  if (files.certFile !== null && files.keyFile !== null) {
    const cert = read(files.certFile, "--cert-file");
    const key = read(files.keyFile, "--key-file");
    certs.push(checkPair("http", files.certFile, cert, files.keyFile, key));
    const ca = files.trustedCaFile === null ? undefined : read(files.trustedCaFile, "--trusted-ca-file");
    if (ca !== undefined) checkCa(files.trustedCaFile!, ca);
    http = { cert, key, ca, requestCert: files.clientCertAuth, rejectUnauthorized: files.clientCertAuth };
    // Like etcd's gateway: the node's own calls present its client-side certificate, so they pass
    // --client-cert-auth on the other members; the CA (when given) verifies their server certificates.
    memberHttp = { https: true, tls: { ca, cert, key } };
  }
  if (files.peerCertFile !== null && files.peerKeyFile !== null && files.peerTrustedCaFile !== null) {
    const cert = read(files.peerCertFile, "--peer-cert-file");
    const key = read(files.peerKeyFile, "--peer-key-file");
    const ca = read(files.peerTrustedCaFile, "--peer-trusted-ca-file");
    certs.push(checkPair("peer", files.peerCertFile, cert, files.peerKeyFile, key));
    checkCa(files.peerTrustedCaFile, ca);
    peer = { cert, key, ca };
  }
  return { http, peer, memberHttp, certs };
}
