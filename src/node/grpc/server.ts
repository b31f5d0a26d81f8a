import { Server, ServerCredentials } from "@grpc/grpc-js";
import { assert } from "../../shared/assert.ts";
import { authService } from "./auth_service.ts";
import type { EtcdBackend } from "./backend.ts";
import { clusterService } from "./cluster_service.ts";
import { kvService } from "./kv_service.ts";
import { leaseService } from "./lease_service.ts";
import { maintenanceService } from "./maintenance_service.ts";
import type { HttpTls } from "../tls/types.ts";
import { etcdService } from "./protos.ts";
import { complete, log } from "./rpc.ts";
import { grpcTls } from "./tls.ts";
import { watchDefinition } from "./watch_encoding.ts";
import { watchService } from "./watch_service.ts";

/** streams_per_connection_max: HTTP/2 concurrent streams one client connection may open (SETTINGS frame). */
export const streams_per_connection_max = 1_024;

export interface GrpcServerOptions {
  /** listen "host:port" (port 0: an ephemeral port). */
  listen: string;
  /** maxMessageBytes: the largest request message accepted (larger: RESOURCE_EXHAUSTED, nothing changes). */
  maxMessageBytes: number;
  /** stopTimeoutMs: how long stop() lets calls in flight finish before it closes what is left. */
  stopTimeoutMs: number;
  /** tls: serve TLS with the HTTP API's certificate flags; null or absent: plaintext h2c. */
  tls?: HttpTls | null;
}

export interface GrpcServer {
  /** addr: the bound "host:port". */
  readonly addr: string;
  /** secure: served over TLS. */
  readonly secure: boolean;
  /** reloadTls: new connections use `tls` (open ones keep theirs); the listener stays up. Throws on a plaintext endpoint. */
  reloadTls(tls: HttpTls): void;
  stop(): Promise<void>;
}

/**
 * startGrpcServer serves etcd's v3 API (KV, Watch, Lease, Cluster, Maintenance, Auth) over `backend` with
 * grpc-js on node:http2 (Bun.serve's HTTP/2 cannot send trailers, so it cannot carry gRPC; BUN-NOTES §9).
 * TLS (options.tls) or plaintext h2c.
 */
export async function startGrpcServer(backend: EtcdBackend, options: GrpcServerOptions): Promise<GrpcServer> {
  assert(options.maxMessageBytes > 0, "maxMessageBytes is positive");
  const colon = options.listen.lastIndexOf(":");
  const host = options.listen.slice(0, colon);
  assert(colon > 0 && host.length > 0, "listen is host:port");
  const server = new Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    "grpc.max_concurrent_streams": streams_per_connection_max,
  });
  // Watch answers may come pre-encoded (watch_encoding.ts): its serializer passes them through.
  const definition = (name: Parameters<typeof etcdService>[0]) => (name === "Watch" ? watchDefinition(etcdService(name)) : etcdService(name));
  const add = (name: Parameters<typeof etcdService>[0], handlers: Parameters<typeof complete>[2]) =>
    server.addService(definition(name), complete(name, etcdService(name), handlers));
  add("KV", kvService(backend));
  add("Watch", watchService(backend));
  add("Lease", leaseService(backend));
  add("Cluster", clusterService(backend));
  add("Maintenance", maintenanceService(backend));
  add("Auth", authService(backend, etcdService("Auth")));
  const tls = options.tls == null ? null : grpcTls(options.tls);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, tls?.credentials ?? ServerCredentials.createInsecure(), (error, bound) => {
      if (error === null) resolve(bound);
      else reject(new Error(`cannot listen for gRPC on ${options.listen}: ${error.message}`, { cause: error }));
    });
  });
  const addr = `${host}:${port}`;
  log.info(`etcd v3 gRPC endpoint on ${addr}${tls === null ? "" : ` (TLS${options.tls!.requestCert ? " with client certificates" : ""})`}`);
  let stopped: Promise<void> | null = null;
  return {
    addr,
    secure: tls !== null,
    reloadTls(next) {
      assert(tls !== null, "reloadTls on a TLS endpoint");
      tls.reload(next);
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, options.stopTimeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return stopped;
    },
  };
}
