// TLS for the etcd gRPC endpoint: the HTTP API's certificate flags (--cert-file, --key-file, --trusted-ca-file,
// --client-cert-auth) on node:http2's secure server, with certificates that can be swapped while the listener
// stays up (setSecureContext: new handshakes use them, open connections keep theirs, as etcd does).
import type { SecureContextOptions } from "node:tls";
import type { HttpTls } from "../tls/types.ts";

export interface GrpcTls {
  /** options: http2.createSecureServer's TLS options (ALPN h2; client certificates as the flags say). */
  options(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean; ALPNProtocols: string[] };
  /** reload: the secure context options of `tls` (same flags, new files' contents) for setSecureContext. */
  reload(tls: HttpTls): SecureContextOptions;
}

/**
 * grpcTls: with --client-cert-auth (requestCert) every client must present a certificate from
 * --trusted-ca-file, refused at the handshake otherwise; without it no client certificate is asked for, as on
 * the HTTP API.
 */
export function grpcTls(tls: HttpTls): GrpcTls {
  const verifyClients = tls.requestCert && tls.ca !== undefined;
  const context = (t: HttpTls): SecureContextOptions => ({ cert: t.cert, key: t.key, ...(t.ca === undefined ? {} : { ca: t.ca }) });
  return {
    options: () => ({ ...context(tls), requestCert: verifyClients, rejectUnauthorized: verifyClients && tls.rejectUnauthorized, ALPNProtocols: ["h2"] }),
    reload: (next) => context(next),
  };
}
