// The gRPC bench's lean client: the closed loop of grpc_load.ts (the same options and result) on our own HTTP/2
// client (h2_client.ts, raw TCP) instead of node:http2. Everything a call needs is built before the clock
// starts: one HPACK header block per method and one gRPC message per key. Every answer is checked (HTTP 200,
// grpc-status 0, a PutResponse/RangeResponse with a header revision, a range's one kv the key asked for); a
// wrong answer is an error, not a sample.
import { type GrpcLoadOptions, type GrpcLoadResult, type GrpcOp, loadResult } from "./grpc_load.ts";
import { checkAnswer, putFrame, rangeFrame } from "./grpc_wire.ts";
import { type Exchange, H2ClientConnection } from "./h2_client.ts";
import { LatencyRecorder } from "./latency.ts";
import { keyName } from "./workload.ts";
import { encodeHeaders } from "../../node/grpc/h2/hpack.ts";

const paths: Record<GrpcOp, string> = { put: "/etcdserverpb.KV/Put", range: "/etcdserverpb.KV/Range" };
/** sweep_ms: how often calls past their timeout are looked for (one timer per connection, not one per call). */
const sweep_ms = 250;

/** requestBlock: the header block of a gRPC call of `path` to `authority` (literals without indexing, no Huffman). */
export function requestBlock(path: string, authority: string): Uint8Array {
  return encodeHeaders([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", authority],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
}

/** Prebuilt: per key, the request message and (for ranges) the key bytes the answer must carry. */
interface Prebuilt {
  bodies: Uint8Array[];
  keys: Uint8Array[] | null;
}

function prebuild(op: GrpcOp, keys: number, valueSize: number): Prebuilt {
  const value = new Uint8Array(valueSize).fill(0x76);
  const names = Array.from({ length: keys }, (_, i) => keyName(i));
  return {
    bodies: names.map((name) => (op === "put" ? putFrame(name, value) : rangeFrame(name))),
    keys: op === "range" ? names.map((name) => Buffer.from(name, "utf8")) : null,
  };
}

function hostPort(addr: string): [string, number] {
  const colon = addr.lastIndexOf(":");
  return [addr.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), Number(addr.slice(colon + 1))];
}

/** checked: the answer's header revision, or why the exchange is not a correct answer (`key`: a range's key). */
export function checked(exchange: Exchange, key: Uint8Array | null): number | string {
  if (exchange.status !== "200") return `HTTP status ${exchange.status ?? "none"}`;
  if (exchange.grpcStatus !== "0") return `grpc-status ${exchange.grpcStatus ?? "missing"}: ${decodeURIComponent(exchange.grpcMessage)}`;
  if (exchange.data === null) return "an answer without a message";
  return checkAnswer(exchange.data, key);
}

/** runRawGrpcLoad: grpc_load.ts's runGrpcLoad on the lean client (see the file comment). */
export async function runRawGrpcLoad(options: GrpcLoadOptions): Promise<GrpcLoadResult> {
  const [host, port] = hostPort(options.addr);
  const prebuilt = prebuild(options.op, options.keys, options.valueSize);
  const block = requestBlock(paths[options.op], options.addr);
  const connections = await Promise.all(Array.from({ length: options.connections }, () => H2ClientConnection.connect(host, port)));
  const timeoutMs = options.callTimeoutMs ?? 10_000;
  const recorder = new LatencyRecorder();
  let errors = 0;
  let firstError: string | null = null;
  let lastRevision = 0;
  const error = (why: string) => {
    errors++;
    firstError ??= `${options.op}: ${why}`;
  };
  const sweeper = setInterval(() => {
    for (const connection of connections) connection.expire(performance.now() - timeoutMs, `no answer within ${timeoutMs} ms`);
  }, sweep_ms);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + options.durationMs;
  let running = options.clients;
  // Pacing (ratePerSec): a slot ahead of the rate parks; a 1 ms timer starts parked slots as the rate allows.
  const rate = options.ratePerSec ?? 0;
  let started_calls = 0;
  const parked: Array<() => void> = [];
  const allowed = (now: number) => (rate <= 0 ? Number.POSITIVE_INFINITY : ((now - started) * rate) / 1000);
  const pacer =
    rate <= 0
      ? null
      : setInterval(() => {
          const now = performance.now();
          while (parked.length > 0 && (started_calls < allowed(now) || now >= deadline)) parked.shift()!();
        }, 1);
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const slot = (connection: H2ClientConnection) => {
    const next = () => {
      const now = performance.now();
      if (now >= deadline || connection.closedWhy !== null) {
        if (connection.closedWhy !== null && connection.closedWhy !== "closed by the client") error(`connection lost: ${connection.closedWhy}`);
        if (--running === 0) allDone();
        return;
      }
      if (started_calls >= allowed(now)) {
        parked.push(next);
        return;
      }
      started_calls++;
      const i = Math.floor(Math.random() * prebuilt.bodies.length);
      connection.request(
        block,
        prebuilt.bodies[i]!,
        (why, exchange) => {
          const answer = why ?? checked(exchange, prebuilt.keys === null ? null : prebuilt.keys[i]!);
          if (typeof answer === "string") error(answer);
          else {
            recorder.record(performance.now() - exchange.startedMs);
            if (answer > lastRevision) lastRevision = answer;
          }
          next();
        },
        now,
      );
    };
    next();
  };
  for (let n = 0; n < options.clients; n++) slot(connections[n % connections.length]!);
  try {
    await finished;
  } finally {
    clearInterval(sweeper);
    if (pacer !== null) clearInterval(pacer);
    for (const connection of connections) connection.close();
  }
  return loadResult(recorder, started, cpuBefore, { errors, firstError, lastRevision });
}
