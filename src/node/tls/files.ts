// The TLS flags of a node, as file paths (etcd's names): read at start and again on every reload.

/** NodeTlsFiles: null paths are flags not given. Client side = the HTTP API; peer side = the Raft port. */
export interface NodeTlsFiles {
  /** certFile/keyFile: the HTTP API's server certificate (--cert-file, --key-file); also this node's client certificate for its own HTTP calls to members. */
  certFile: string | null;
  keyFile: string | null;
  /** trustedCaFile (--trusted-ca-file): verifies client certificates (with clientCertAuth) and other members' HTTP servers. */
  trustedCaFile: string | null;
  /** clientCertAuth (--client-cert-auth): every HTTP client must present a certificate from trustedCaFile. */
  clientCertAuth: boolean;
  /** peerCertFile/peerKeyFile/peerTrustedCaFile: mutual TLS on every Raft and snapshot link. */
  peerCertFile: string | null;
  peerKeyFile: string | null;
  peerTrustedCaFile: string | null;
}

export const no_tls: NodeTlsFiles = {
  certFile: null,
  keyFile: null,
  trustedCaFile: null,
  clientCertAuth: false,
  peerCertFile: null,
  peerKeyFile: null,
  peerTrustedCaFile: null,
};

/** tlsFilesProblem: why a combination of flags cannot work, or null. Checked before anything is read. */
export function tlsFilesProblem(f: NodeTlsFiles): string | null {
  if ((f.certFile === null) !== (f.keyFile === null)) return "--cert-file and --key-file go together";
  if (f.clientCertAuth && f.trustedCaFile === null) return "--client-cert-auth needs --trusted-ca-file (the CA client certificates must come from)";
  if (f.clientCertAuth && f.certFile === null) return "--client-cert-auth needs --cert-file and --key-file (TLS on the HTTP API)";
  if (f.trustedCaFile !== null && f.certFile === null) return "--trusted-ca-file needs --cert-file and --key-file (TLS on the HTTP API)";
  const peer = [f.peerCertFile, f.peerKeyFile, f.peerTrustedCaFile].filter((p) => p !== null).length;
  if (peer !== 0 && peer !== 3) return "--peer-cert-file, --peer-key-file and --peer-trusted-ca-file go together (peer TLS is always mutual)";
  return null;
}

/** watchedPaths: every file a reload reads. */
export function watchedPaths(f: NodeTlsFiles): string[] {
  return [f.certFile, f.keyFile, f.trustedCaFile, f.peerCertFile, f.peerKeyFile, f.peerTrustedCaFile].filter((p): p is string => p !== null);
}
