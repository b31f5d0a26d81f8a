// The etcd v3 gRPC endpoint (issue 14): etcd's protocol over the node, for etcdctl and etcd's client libraries.
import type { NodeApi } from "../api.ts";
import type { HttpTls, MemberHttp } from "../tls/types.ts";
import type { NodeOptions } from "../types.ts";
import { scopedBackend } from "./auth_gate.ts";
import { createNodeBackend } from "./node_backend.ts";
import { type GrpcServer, startGrpcServer } from "./server.ts";

export type { GrpcServer } from "./server.ts";

const stop_grace_ms = 1_000;
export type { EtcdBackend } from "./backend.ts";

/**
 * startEtcdEndpoint starts the endpoint when options.grpcAddr is set (null otherwise). Messages may be as large
 * as an HTTP body; keys and values are bounded by the node's own limits when a write is validated. `tls` is the
 * HTTP API's (the same client certificate flags, as etcd serves gRPC and HTTP on its client URLs); `memberHttp`
 * is how a follower forwards a write to the leader's HTTP API (https + client certificate when TLS is on).
 */
export async function startEtcdEndpoint(api: NodeApi, options: NodeOptions, tls: HttpTls | null = null, memberHttp?: () => MemberHttp): Promise<GrpcServer | null> {
  const listen = options.grpcAddr ?? null;
  if (listen === null) return null;
  let addr = listen;
  const make = (scoped: NodeApi) =>
    createNodeBackend(scoped, {
      get grpcAddr() {
        return addr;
      },
      requestTimeoutMs: options.requestTimeoutMs,
      memberHttp,
    });
  // With auth, every call answers through a backend scoped to its caller (auth_gate.ts).
  const backend = api.auth === undefined ? make(api) : { ...scopedBackend(api, api.auth, make), auth: api.auth };
  // The node stops the endpoint after it failed every pending request (shutting_down); what is left then are
  // long-lived streams (watch, keep-alive) that never end on their own, so the grace before closing them is short.
  const server = await startGrpcServer(backend, { listen, maxMessageBytes: options.maxBodyBytes, stopTimeoutMs: Math.min(options.requestTimeoutMs, stop_grace_ms), tls });
  addr = server.addr;
  return server;
}
