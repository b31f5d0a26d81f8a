// Peer TLS: mutual TLS on every Raft and snapshot link. Both ends present a certificate signed by the peer CA
// and verify the other's against it; a connection that fails either check is closed during the handshake,
// before a single frame is read, so an outsider never reaches the hello (cluster id, node id) checks.
import type { Socket } from "bun";
import { assert } from "../shared/assert.ts";

/** PeerTls: PEM texts (not paths: the node reads and reloads the files). */
export interface PeerTls {
  cert: string;
  key: string;
  /** ca: the peer CA bundle; a peer certificate not issued by it is refused. */
  ca: string;
}

/** listenerTls: the Bun.listen `tls` block; requestCert + rejectUnauthorized make it mutual. */
export function listenerTls(tls: PeerTls) {
  checkPeerTls(tls);
  return { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true };
}

/** dialTls: the Bun.connect `tls` block; the server's certificate must come from the same CA. */
export function dialTls(tls: PeerTls) {
  checkPeerTls(tls);
  return { cert: tls.cert, key: tls.key, ca: tls.ca, rejectUnauthorized: true };
}

function checkPeerTls(tls: PeerTls): void {
  assert(tls.cert.includes("-----BEGIN"), "peer certificate is PEM");
  assert(tls.key.includes("-----BEGIN"), "peer key is PEM");
  assert(tls.ca.includes("-----BEGIN"), "peer CA is PEM");
}

/**
 * handshakeFailure: why a finished TLS handshake must not carry frames, or null when it may. Bun reports
 * `success` for the TLS exchange and the certificate check separately (authorizationError); both must pass.
 */
export function handshakeFailure(success: boolean, authorizationError: Error | null): string | null {
  if (success && authorizationError === null) return null;
  const code = (authorizationError as (Error & { code?: string }) | null)?.code;
  return code ?? authorizationError?.message ?? "TLS handshake failed";
}

/** remoteOf names the other end of a socket for log lines. */
export function remoteOf(socket: Socket<unknown>): string {
  return socket.remoteAddress ?? "?";
}
