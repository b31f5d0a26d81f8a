// Plain types shared by the HTTP server, the member HTTP client and the TLS loader (a leaf: imports nothing).

/** HttpTls: the Bun.serve `tls` block of the HTTP API. */
export interface HttpTls {
  cert: string;
  key: string;
  /** ca: verifies client certificates (with requestCert) — --trusted-ca-file. */
  ca?: string;
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/**
 * MemberHttp: how this node reaches other members' HTTP APIs. With TLS on the HTTP API (--cert-file) the
 * calls use https, verify the member against --trusted-ca-file and present this node's --cert-file/--key-file
 * as the client certificate (so they pass --client-cert-auth), as etcd's gateway does.
 */
export interface MemberHttp {
  https: boolean;
  tls?: { ca?: string; cert?: string; key?: string };
}
