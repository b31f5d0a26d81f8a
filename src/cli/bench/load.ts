import { LatencyRecorder, type LatencySummary } from "./latency.ts";
import { keyName, pickOp, type BenchOp, type Workload } from "./workload.ts";

export interface LoadOptions extends Workload {
  /** writeAddr receives puts (the leader); readAddr receives gets (leader or a follower). */
  writeAddr: string;
  readAddr: string;
  clients: number;
  durationMs: number;
  /** onProgress is called about once a second with the ops completed so far. */
  onProgress?: (elapsedMs: number, ops: number, errors: number) => void;
  /** requestTimeoutMs bounds each request, so a dead server cannot hang a client. */
  requestTimeoutMs?: number;
  /** tls: https with this CA and client certificate (a cluster started by `bench --tls`); absent: http. */
  tls?: { ca?: string; cert?: string; key?: string };
}

export interface OpResult {
  ops: number;
  errors: number;
  throughput: number;
  latencyMs: LatencySummary;
}

export interface LoadResult {
  durationMs: number;
  clients: number;
  total: OpResult;
  byOp: Partial<Record<BenchOp, OpResult>>;
  /** firstError: the first failure seen, to explain a run with errors. */
  firstError: string | null;
}

/** runLoad drives a closed-loop load: each client sends its next request when the previous one answered. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const value = "v".repeat(options.valueSize);
  const recorders = { put: new LatencyRecorder(), get: new LatencyRecorder() };
  const errors = { put: 0, get: 0 };
  let firstError: string | null = null;
  const started = performance.now();
  const deadline = started + options.durationMs;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const scheme = options.tls === undefined ? "http" : "https";
  const tlsInit = options.tls === undefined ? {} : { tls: options.tls };
  const putUrl = `${scheme}://${options.writeAddr}/kv`;
  const getBase = `${scheme}://${options.readAddr}/kv?${options.consistency === "stale" ? "consistency=stale&" : ""}key=`;

  async function oneRequest(op: BenchOp): Promise<void> {
    const key = keyName(Math.floor(Math.random() * options.keys));
    const begin = performance.now();
    try {
      const response =
        op === "put"
          ? await fetch(putUrl, {
              ...tlsInit,
              method: "POST",
              headers: { "content-type": "application/json" },
              body: `{"op":"put","key":"${key}","value":"${value}"}`,
              signal: AbortSignal.timeout(timeoutMs),
            })
          : await fetch(getBase + key, { ...tlsInit, signal: AbortSignal.timeout(timeoutMs) });
      await response.arrayBuffer();
      // A get of a key never written is a valid 404 answer; anything else non-2xx is an error.
      if (response.ok || (op === "get" && response.status === 404)) {
        recorders[op].record(performance.now() - begin);
        return;
      }
      errors[op]++;
      firstError ??= `${op} answered HTTP ${response.status}`;
    } catch (error) {
      errors[op]++;
      firstError ??= `${op} failed: ${(error as Error).message}`;
    }
  }

  async function client(): Promise<void> {
    while (performance.now() < deadline) await oneRequest(pickOp(options.mix, Math.random()));
  }

  const progress = options.onProgress
    ? setInterval(() => {
        const ops = recorders.put.size + recorders.get.size;
        options.onProgress!(performance.now() - started, ops, errors.put + errors.get);
      }, 1000)
    : null;
  try {
    await Promise.all(Array.from({ length: options.clients }, client));
  } finally {
    if (progress) clearInterval(progress);
  }
  const elapsedMs = performance.now() - started;
  const result = (recorder: LatencyRecorder, errorCount: number): OpResult => ({
    ops: recorder.size,
    errors: errorCount,
    throughput: (recorder.size * 1000) / elapsedMs,
    latencyMs: recorder.summary(),
  });
  const byOp: Partial<Record<BenchOp, OpResult>> = {};
  for (const op of ["put", "get"] as const) if (options.mix[op] > 0) byOp[op] = result(recorders[op], errors[op]);
  const totalOps = recorders.put.size + recorders.get.size;
  const merged = mergeSummaries(recorders.put, recorders.get);
  return {
    durationMs: elapsedMs,
    clients: options.clients,
    total: { ops: totalOps, errors: errors.put + errors.get, throughput: (totalOps * 1000) / elapsedMs, latencyMs: merged },
    byOp,
    firstError,
  };
}

function mergeSummaries(a: LatencyRecorder, b: LatencyRecorder): LatencySummary {
  if (a.size === 0) return b.summary();
  if (b.size === 0) return a.summary();
  const merged = new LatencyRecorder(a.size + b.size);
  for (const recorder of [a, b]) recorder.forEach((sample) => merged.record(sample));
  return merged.summary();
}

/** fillKeys writes keys 0..keys-1 once each (bench-key-%08d) with `clients` writers; returns the time taken. */
export async function fillKeys(
  writeAddr: string,
  options: { keys: number; valueSize: number; clients: number; onProgress?: (done: number) => void },
): Promise<number> {
  const value = "v".repeat(options.valueSize);
  const started = performance.now();
  let next = 0;
  let done = 0;
  async function writer(): Promise<void> {
    while (next < options.keys) {
      const key = keyName(next++);
      for (let attempt = 0; ; attempt++) {
        const response = await fetch(`http://${writeAddr}/kv`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: `{"op":"put","key":"${key}","value":"${value}"}`,
          signal: AbortSignal.timeout(10_000),
        }).catch(() => null);
        if (response?.ok) break;
        if (attempt >= 5) throw new Error(`fill: put ${key} failed (${response?.status ?? "no answer"})`);
        await Bun.sleep(100);
      }
      if (++done % 50_000 === 0) options.onProgress?.(done);
    }
  }
  await Promise.all(Array.from({ length: options.clients }, writer));
  return performance.now() - started;
}
