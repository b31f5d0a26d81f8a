import http2 from "node:http2";
import type { Http2SecureServer, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import type { MethodDefinition } from "@grpc/grpc-js";
import { status as grpcStatus } from "@grpc/grpc-js";
import { assert } from "../../shared/assert.ts";
import { guardHandlers } from "./auth_gate.ts";
import { authService } from "./auth_service.ts";
import type { EtcdBackend } from "./backend.ts";
import { type CallStatus, type CallStream, ServerCall } from "./call.ts";
import { clusterService } from "./cluster_service.ts";
import type { Msg } from "./codec.ts";
import { kvService } from "./kv_service.ts";
import { leaseService } from "./lease_service.ts";
import { maintenanceService } from "./maintenance_service.ts";
import type { HttpTls } from "../tls/types.ts";
import { etcdService } from "./protos.ts";
import { fastPutCodec } from "./put_codec.ts";
import { fastRangeCodec } from "./range_codec.ts";
import { complete, log } from "./rpc.ts";
import { listenH2 } from "./h2/index.ts";
import { grpcTls } from "./tls.ts";
import { watchDefinition } from "./watch_encoding.ts";
import { watchService } from "./watch_service.ts";
import { FrameReader, grpc_content_type, grpcMessage, timeoutMs, WireError } from "./wire.ts";

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

type Handler = (call: ServerCall, callback?: (error: CallStatus | null, response?: Msg) => void) => void;

/** Route: one method: its codec (proto-loader's), whether the client streams, and the service's handler. */
interface Route {
  definition: MethodDefinition<Msg, Msg>;
  clientStream: boolean;
  serverStream: boolean;
  handler: Handler;
}

/**
 * startGrpcServer serves etcd's v3 API (KV, Watch, Lease, Cluster, Maintenance, Auth) over `backend` with the
 * gRPC wire format of wire.ts and the calls of call.ts. Plaintext h2c runs on our own HTTP/2 server over
 * Bun.listen (h2/: Bun's node:http2 cost ~70 µs of leader CPU per put more; BENCHMARKS.md "h43"); TLS stays on
 * node:http2's secure server (client certificates, setSecureContext). Bun.serve's HTTP/2 cannot send trailers,
 * so it cannot carry gRPC (BUN-NOTES §9). grpc-js's server cost ~1.4× node:http2 per call in process
 * (BENCHMARKS.md "the gRPC endpoint without grpc-js's server"); the handlers and the message codecs are the same.
 */
export async function startGrpcServer(backend: EtcdBackend, options: GrpcServerOptions): Promise<GrpcServer> {
  assert(options.maxMessageBytes > 0, "maxMessageBytes is positive");
  const colon = options.listen.lastIndexOf(":");
  const host = options.listen.slice(0, colon);
  const wantedPort = Number(options.listen.slice(colon + 1));
  assert(colon > 0 && host.length > 0 && Number.isInteger(wantedPort), "listen is host:port");
  const onStream = grpcStreamHandler(backend, options.maxMessageBytes);
  const tls = options.tls == null ? null : grpcTls(options.tls);
  const endpoint = tls === null ? await plaintextEndpoint(host, wantedPort, onStream) : await tlsEndpoint(host, wantedPort, tls.options(), onStream, options.listen);
  const addr = `${host}:${endpoint.port}`;
  log.info(`etcd v3 gRPC endpoint on ${addr}${tls === null ? "" : ` (TLS${options.tls!.requestCert ? " with client certificates" : ""})`}`);
  let stopped: Promise<void> | null = null;
  return {
    addr,
    secure: tls !== null,
    reloadTls(next) {
      assert(tls !== null && endpoint.secure !== null, "reloadTls on a TLS endpoint");
      endpoint.secure.setSecureContext(tls.reload(next));
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        // No new connections; open ones get a GOAWAY and finish their streams, the rest are closed at the timeout.
        const timer = setTimeout(() => {
          endpoint.destroyAll();
          resolve();
        }, options.stopTimeoutMs);
        endpoint.drain(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return stopped;
    },
  };
}

/**
 * grpcStreamHandler: etcd's services over `backend` as a handler of request streams (each a call); what both
 * endpoints serve, and what scripts/bench_grpc_put_path.ts drives without sockets.
 */
export function grpcStreamHandler(backend: EtcdBackend, maxMessageBytes: number): (stream: CallStream, headers: IncomingHttpHeaders) => void {
  const routes = new Map<string, Route>();
  const add = (name: Parameters<typeof etcdService>[0], handlers: Parameters<typeof complete>[2]) => {
    // Watch answers may come pre-encoded (watch_encoding.ts): its serializer passes them through.
    const service = name === "Watch" ? watchDefinition(etcdService(name)) : etcdService(name);
    const implementation = complete(name, service, guardHandlers(name, service, handlers, backend.auth));
    for (const [method, definition] of Object.entries(service)) {
      const generated = definition as MethodDefinition<Msg, Msg>;
      // KV.Put and KV.Range, the hottest calls, use the hand-written codecs of put_codec.ts and range_codec.ts
      // (proto-loader's behind them).
      const d = generated.path === "/etcdserverpb.KV/Put" ? fastPutCodec(generated) : generated.path === "/etcdserverpb.KV/Range" ? fastRangeCodec(generated) : generated;
      routes.set(d.path, { definition: d, clientStream: d.requestStream, serverStream: d.responseStream, handler: implementation[method] as unknown as Handler });
    }
  };
  add("KV", kvService(backend));
  add("Watch", watchService(backend));
  add("Lease", leaseService(backend));
  add("Cluster", clusterService(backend));
  add("Maintenance", maintenanceService(backend));
  add("Auth", authService(backend, etcdService("Auth")));

  return (stream, headers) => serve(routes, maxMessageBytes, stream, headers);
}

/** Endpoint: a listener with its connections, plaintext (h2/) or TLS (node:http2). */
interface Endpoint {
  port: number;
  /** secure: the TLS server (reloadTls), null on plaintext. */
  secure: Http2SecureServer | null;
  /** drain stops listening, sends every connection a GOAWAY, and calls `done` once none is left. */
  drain(done: () => void): void;
  destroyAll(): void;
}

/** plaintextEndpoint: h2c on our own HTTP/2 server over Bun.listen (h2/), cheaper per call than node:http2. */
async function plaintextEndpoint(host: string, port: number, onStream: (stream: CallStream, headers: IncomingHttpHeaders) => void): Promise<Endpoint> {
  let server: ReturnType<typeof listenH2>;
  try {
    server = listenH2({ host: host.replace(/^\[(.*)\]$/, "$1"), port, onStream, onInternalError: (error) => log.error("gRPC connection closed after an internal error:", error) });
  } catch (error) {
    throw new Error(`cannot listen for gRPC on ${host}:${port}: ${(error as Error).message}`, { cause: error });
  }
  return {
    port: server.port,
    secure: null,
    drain(done) {
      server.stopListening();
      if (server.connections.size === 0) return done();
      server.onEmpty = done;
      for (const connection of server.connections) connection.goaway();
    },
    destroyAll() {
      for (const connection of [...server.connections]) connection.destroy();
    },
  };
}

/** tlsEndpoint: node:http2's secure server (Bun.listen's TLS is not used here: see BENCHMARKS.md "h43"). */
async function tlsEndpoint(
  host: string,
  wantedPort: number,
  tlsOptions: ReturnType<ReturnType<typeof grpcTls>["options"]>,
  onStream: (stream: CallStream, headers: IncomingHttpHeaders) => void,
  listen: string,
): Promise<Endpoint> {
  const settings = { maxConcurrentStreams: streams_per_connection_max };
  const server: Http2SecureServer = http2.createSecureServer({ ...tlsOptions, settings, allowHTTP1: false });
  // An aborted TLS handshake or a reset socket must not become an uncaught error.
  server.on("secureConnection", (socket) => socket.on("error", () => undefined));
  server.on("tlsClientError", () => undefined);
  const sessions = new Set<Http2Session>();
  /** onLastSession: set by drain(), called once the last open session closed. */
  let onLastSession: (() => void) | null = null;
  server.on("session", (session) => {
    sessions.add(session);
    session.on("error", () => undefined);
    session.on("close", () => {
      sessions.delete(session);
      if (sessions.size === 0) onLastSession?.();
    });
  });
  server.on("stream", (stream, headers) => onStream(stream as ServerHttp2Stream, headers));
  const port = await new Promise<number>((resolve, reject) => {
    const onError = (error: Error) => reject(new Error(`cannot listen for gRPC on ${listen}: ${error.message}`, { cause: error }));
    server.once("error", onError);
    server.listen(wantedPort, host.replace(/^\[(.*)\]$/, "$1"), () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : wantedPort);
    });
  });
  server.on("error", (error) => log.error("gRPC listener error:", error));
  return {
    port,
    secure: server,
    drain(done) {
      server.close();
      if (sessions.size === 0) return done();
      onLastSession = done;
      for (const session of sessions) session.close();
    },
    destroyAll() {
      for (const session of sessions) session.destroy();
    },
  };
}

/** refuse answers a stream with a status and no messages (trailers-only), unless it is gone already. */
function refuse(stream: CallStream, code: grpcStatus, details: string): void {
  if (stream.destroyed || stream.closed) return;
  try {
    stream.respond({ ":status": 200, "content-type": grpc_content_type, "grpc-status": String(code), "grpc-message": grpcMessage(details) }, { endStream: true });
  } catch {
    // gone meanwhile
  }
}

/** serve runs one call: read the request message(s), run the handler, answer; every failure ends with a status. */
/** ignore: the 'error' listener of every stream (a stream error closes it; the call sees 'close'). */
const ignore = () => undefined;

function serve(routes: Map<string, Route>, maxMessageBytes: number, stream: CallStream, headers: IncomingHttpHeaders): void {
  stream.on("error", ignore);
  const path = headers[":path"] ?? "";
  const contentType = headers["content-type"];
  if (headers[":method"] !== "POST" || typeof contentType !== "string" || !contentType.startsWith("application/grpc")) {
    if (!stream.destroyed && !stream.closed) {
      try {
        stream.respond({ ":status": 415, "grpc-status": String(grpcStatus.UNKNOWN), "grpc-message": "content-type is not application/grpc" }, { endStream: true });
      } catch {
        // gone meanwhile
      }
    }
    return;
  }
  const route = routes.get(path);
  if (route === undefined) {
    refuse(stream, grpcStatus.UNIMPLEMENTED, `The server does not implement the method ${path}`);
    return;
  }
  const call = new ServerCall(stream, headers, route.definition);
  const deadline = timeoutMs(headers["grpc-timeout"]);
  if (deadline !== null) call.setDeadline(deadline);
  const reader = new FrameReader(maxMessageBytes);
  const decode = (bytes: Buffer): Msg | null => {
    try {
      return route.definition.requestDeserialize(bytes);
    } catch (error) {
      call.finish({ code: grpcStatus.INTERNAL, details: `Error deserializing request: ${(error as Error).message}` });
      return null;
    }
  };
  // After a refused frame the call is over: what else the client sends is read (flow control) and dropped.
  let refused = false;
  // onMessage null: the reader counts the messages and keeps the last (a unary request; no closure per call).
  const onData = (onMessage: ((message: Buffer) => void) | null) =>
    stream.on("data", (chunk: Buffer) => {
      if (refused) return;
      try {
        reader.push(chunk, onMessage);
      } catch (error) {
        refused = true;
        const wire = error instanceof WireError ? error : new WireError(grpcStatus.INTERNAL, String(error));
        call.finish({ code: wire.code, details: wire.message });
      }
    });
  if (route.clientStream) {
    // Bidi (Watch, LeaseKeepAlive): the handler listens for 'data' and 'end' on the call.
    route.handler(call);
    onData((bytes) => {
      const message = decode(bytes);
      if (message === null) refused = true;
      else call.emit("data", message);
    });
    stream.on("end", () => {
      if (!refused) call.emit("end");
    });
    return;
  }
  onData(null);
  stream.on("end", () => {
    if (refused || call.cancelled || stream.destroyed || stream.closed) return;
    const request = reader.last;
    if (reader.count !== 1 || request === null || reader.partial) {
      call.finish({ code: grpcStatus.UNIMPLEMENTED, details: `${path}: expected exactly one request message, got ${reader.count}` });
      return;
    }
    const message = decode(request);
    if (message === null) return;
    call.request = message;
    if (route.serverStream) {
      route.handler(call);
      return;
    }
    route.handler(call, (error, response) => {
      if (error !== null) call.finish(error);
      else call.answer(response as Msg);
    });
  });
}
