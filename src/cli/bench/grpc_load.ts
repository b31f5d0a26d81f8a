// A closed-loop load through etcd's own gRPC protocol (KV.Put, KV.Range), the same for qklzl's -grpc-addr and
// for etcd, from a lean node:http2 client: prebuilt protobuf requests, and every answer checked (HTTP 200,
// grpc-status 0, a response header with a revision, the key found by a range). grpc-js as a client costs
// several times more CPU per call, CPU the servers need on a 2-core machine (BUN-NOTES §9).
import http2 from "node:http2";
import { LatencyRecorder, type LatencySummary } from "./latency.ts";
import { putFrame, rangeFrame, readAnswer } from "./grpc_wire.ts";
import { keyName } from "./workload.ts";

export type GrpcOp = "put" | "range";

export interface GrpcLoadOptions {
  /** addr: host:port of the member that gets the load (h2c). */
  addr: string;
  op: GrpcOp;
  /** clients: calls in flight at any time (a closed loop: each sends its next call when the last answered). */
  clients: number;
  /** connections: HTTP/2 connections the clients share (round robin). */
  connections: number;
  durationMs: number;
  keys: number;
  valueSize: number;
  /** callTimeoutMs bounds every call, so a stuck server cannot hang the run. */
  callTimeoutMs?: number;
  /**
   * ratePerSec: at most this many calls started per second (the lean client only; the clients still bound what
   * is in flight). Two builds compared at the same rate batch alike, so their CPU per call compares their code.
   */
  ratePerSec?: number;
}

export interface GrpcLoadResult {
  ops: number;
  errors: number;
  throughput: number;
  latencyMs: LatencySummary;
  firstError: string | null;
  /** lastRevision: the highest header revision seen. */
  lastRevision: number;
  /** clientCpuMs: this process's CPU time during the run (user + system), to show what the client cost. */
  clientCpuMs: number;
}

const paths: Record<GrpcOp, string> = { put: "/etcdserverpb.KV/Put", range: "/etcdserverpb.KV/Range" };

function connect(addr: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${addr}`);
    session.once("connect", () => resolve(session));
    session.once("error", reject);
  });
}

/** call sends one unary call and resolves with the answer's frame, or rejects with why it failed. */
function call(session: http2.ClientHttp2Session, path: string, body: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let grpcStatus: string | undefined;
    let grpcMessage: string | undefined;
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on("response", (headers) => {
      status = String(headers[":status"]);
      // A trailers-only answer (an error) carries grpc-status in the headers.
      if (headers["grpc-status"] !== undefined) [grpcStatus, grpcMessage] = [String(headers["grpc-status"]), String(headers["grpc-message"] ?? "")];
    });
    stream.on("trailers", (trailers) => {
      grpcStatus = String(trailers["grpc-status"]);
      grpcMessage = String(trailers["grpc-message"] ?? "");
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    stream.on("close", () => {
      clearTimeout(timer);
      if (status !== "200") reject(new Error(`HTTP status ${status ?? "none"}`));
      else if (grpcStatus !== "0") reject(new Error(`grpc-status ${grpcStatus ?? "missing"}: ${decodeURIComponent(grpcMessage ?? "")}`));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    stream.end(body);
  });
}

/** prebuilt: the request bodies for every key, built once before the clock starts. */
function prebuilt(op: GrpcOp, keys: number, valueSize: number): Uint8Array[] {
  const value = new Uint8Array(valueSize).fill(0x76);
  return Array.from({ length: keys }, (_, i) => (op === "put" ? putFrame(keyName(i), value) : rangeFrame(keyName(i))));
}

export async function runGrpcLoad(options: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const bodies = prebuilt(options.op, options.keys, options.valueSize);
  const sessions = await Promise.all(Array.from({ length: options.connections }, () => connect(options.addr)));
  for (const session of sessions) session.on("error", () => undefined);
  const recorder = new LatencyRecorder();
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  let errors = 0;
  let firstError: string | null = null;
  let lastRevision = 0;
  const path = paths[options.op];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.durationMs;
  async function client(n: number): Promise<void> {
    const session = sessions[n % sessions.length]!;
    while (performance.now() < deadline) {
      const begin = performance.now();
      try {
        const answer = readAnswer(await call(session, path, bodies[Math.floor(Math.random() * bodies.length)]!, timeoutMs));
        if (answer.revision <= 0) throw new Error("answer without a header revision");
        if (options.op === "range" && answer.kvs !== 1) throw new Error(`range found ${answer.kvs} keys, expected 1 (keys not loaded?)`);
        lastRevision = Math.max(lastRevision, answer.revision);
        recorder.record(performance.now() - begin);
      } catch (error) {
        errors++;
        firstError ??= `${options.op}: ${(error as Error).message}`;
        if (session.closed || session.destroyed) throw new Error(`connection to ${options.addr} lost: ${firstError}`);
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: options.clients }, (_, n) => client(n)));
  } finally {
    for (const session of sessions) session.close();
  }
  return loadResult(recorder, started, cpuBefore, { errors, firstError, lastRevision });
}

/** loadResult: one run's figures from its latency recorder, start time and CPU reading (both load clients). */
export function loadResult(
  recorder: LatencyRecorder,
  startedMs: number,
  cpuBefore: NodeJS.CpuUsage,
  tally: { errors: number; firstError: string | null; lastRevision: number },
): GrpcLoadResult {
  const elapsedMs = performance.now() - startedMs;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    ops: recorder.size,
    errors: tally.errors,
    throughput: (recorder.size * 1000) / elapsedMs,
    latencyMs: recorder.summary(),
    firstError: tally.firstError,
    lastRevision: tally.lastRevision,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/** rangeOnce: one linearizable Range of `key` (for the h2load cross-check: the key's version counts its puts). */
export async function rangeOnce(addr: string, key: string): Promise<ReturnType<typeof readAnswer>> {
  const session = await connect(addr);
  session.on("error", () => undefined);
  try {
    return readAnswer(await call(session, paths.range, rangeFrame(key), 10_000));
  } finally {
    session.close();
  }
}

/** fillGrpc puts every key once (so linearizable ranges find them), `clients` calls in flight. */
export async function fillGrpc(addr: string, keys: number, valueSize: number, clients = 32): Promise<void> {
  const bodies = prebuilt("put", keys, valueSize);
  const session = await connect(addr);
  session.on("error", () => undefined);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          for (let attempt = 0; ; attempt++) {
            try {
              await call(session, paths.put, body, 10_000);
              break;
            } catch (error) {
              if (attempt >= 5) throw new Error(`fill of ${addr} failed: ${(error as Error).message}`);
              await Bun.sleep(100);
            }
          }
        }
      }),
    );
  } finally {
    session.close();
  }
}
