// TLS for the etcd gRPC endpoint: the HTTP API's certificate flags (--cert-file, --key-file, --trusted-ca-file,
// --client-cert-auth) served by grpc-js, with certificates that can be swapped while the listener stays up.
import { experimental, type ServerCredentials } from "@grpc/grpc-js";
import type { HttpTls } from "../tls/types.ts";

type IdentityListener = (update: experimental.IdentityCertificateUpdate | null) => void;
type CaListener = (update: experimental.CaCertificateUpdate | null) => void;

/**
 * MaterialProvider: a grpc-js CertificateProvider fed by the node's TlsManager (which already reads, checks and
 * watches the files) instead of grpc-js's own file watcher, so one reload path covers HTTP, peers and gRPC.
 * grpc-js applies an update with http2 server.setSecureContext: new handshakes use it, open connections keep
 * theirs (as etcd does), and the listener never closes.
 */
class MaterialProvider implements experimental.CertificateProvider {
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();

  constructor(private tls: HttpTls) {}

  set(tls: HttpTls): void {
    this.tls = tls;
    for (const listener of this.identityListeners) listener(this.identity());
    for (const listener of this.caListeners) listener(this.ca());
  }

  private identity(): experimental.IdentityCertificateUpdate {
    return { certificate: Buffer.from(this.tls.cert), privateKey: Buffer.from(this.tls.key) };
  }

  private ca(): experimental.CaCertificateUpdate | null {
    return this.tls.ca === undefined ? null : { caCertificate: Buffer.from(this.tls.ca) };
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    listener(this.identity());
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    listener(this.ca());
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
}

export interface GrpcTls {
  credentials: ServerCredentials;
  /** reload serves new connections with `tls` (same flags, new files' contents). */
  reload(tls: HttpTls): void;
}

/**
 * grpcTls: server credentials for `tls`. With --client-cert-auth (requestCert) every client must present a
 * certificate from --trusted-ca-file, refused at the handshake otherwise; without it no client certificate is
 * asked for, as on the HTTP API.
 */
export function grpcTls(tls: HttpTls): GrpcTls {
  const provider = new MaterialProvider(tls);
  const verifyClients = tls.requestCert && tls.ca !== undefined;
  // The first argument is the identity provider (grpc-js 1.14 names its parameters the other way round, but
  // passes them to the constructor as (identity, ca, requireClientCertificate)).
  const credentials = experimental.createCertificateProviderServerCredentials(provider, verifyClients ? provider : null, verifyClients && tls.rejectUnauthorized);
  // grpc-js reads the context options when it creates the http2 server, before it subscribes to updates: a
  // standing watcher makes them ready at bind time, so the server is created with its certificate.
  credentials._addWatcher(() => undefined);
  return { credentials, reload: (next) => provider.set(next) };
}
