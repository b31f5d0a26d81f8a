import type { Cluster } from "./cluster.ts";
import { request } from "./http.ts";

// history.ts records a history of concurrent reads and writes on a few keys, and checks it for the stale reads a
// linearizable register forbids. Every write puts a unique value, so a read names the write it observed. The
// checks are necessary conditions of linearizability (not a full search), cheap and exact in what they flag:
//   1. a read never returns a value whose write had not been invoked yet when the read completed;
//   2. a read never returns a value that was definitely overwritten before the read began
//      (its write completed, then another acknowledged write was invoked and completed, then the read began);
//   3. a read that begins after another read completed never returns a value definitely older than the one
//      that read saw (its write completed before the other value's write was invoked);
//   4. a 404 (no value) only before any write to that key was acknowledged.
// Times come from one clock (this process); a write whose outcome is unknown completes at +Infinity.

export interface Op {
  kind: "read" | "write";
  client: string;
  key: string;
  /** value: written, or read (null for a 404). */
  value: string | null;
  invokeMs: number;
  /** completeMs: +Infinity for a write whose outcome is unknown. */
  completeMs: number;
  node: number;
}

export interface HistoryOptions {
  keys?: number;
  /** keyPrefix: the registers are `${keyPrefix}0`.. (default "reg"); a second history on one cluster needs its own. */
  keyPrefix?: string;
  writers?: number;
  readers?: number;
  requestTimeoutMs?: number;
}

export interface History {
  readonly ops: Op[];
  stop(): Promise<Op[]>;
}

/** recordHistory starts writers (through the leader, following 307 hints) and readers (random nodes, linearizable). */
export function recordHistory(cluster: Cluster, options: HistoryOptions = {}): History {
  const ops: Op[] = [];
  const keys = Array.from({ length: options.keys ?? 3 }, (_, i) => `${options.keyPrefix ?? "reg"}${i}`);
  const timeoutMs = options.requestTimeoutMs ?? 2000;
  let stopping = false;
  let leader = cluster.ids[0]!;

  async function writer(n: number): Promise<void> {
    for (let seq = 0; !stopping && !cluster.isDestroyed; seq++) {
      const key = keys[seq % keys.length]!;
      const value = `w${n}-${seq}`;
      const node = leader;
      const invokeMs = performance.now();
      const reply = await request(cluster.node(node).httpAddr, "/kv", { json: { op: "put", key, value }, timeoutMs });
      const completeMs = performance.now();
      if (reply.status === 200 && reply.json?.ok === true) {
        ops.push({ kind: "write", client: `w${n}`, key, value, invokeMs, completeMs, node });
        continue;
      }
      // A 307 or 4xx refused the write for sure; anything else may still take effect later.
      const refused = reply.status === 307 || (reply.status >= 400 && reply.status < 500);
      if (!refused) ops.push({ kind: "write", client: `w${n}`, key, value, invokeMs, completeMs: Number.POSITIVE_INFINITY, node });
      const hint = reply.json?.leader_http_addr;
      const hinted = typeof hint === "string" ? cluster.nodeByHttpAddr(hint) : null;
      leader = hinted ?? cluster.ids[(cluster.ids.indexOf(node) + 1) % cluster.ids.length]!;
      await Bun.sleep(10);
    }
  }

  async function reader(n: number): Promise<void> {
    for (let seq = 0; !stopping && !cluster.isDestroyed; seq++) {
      const key = keys[(seq + n) % keys.length]!;
      const node = cluster.ids[(seq * 7 + n) % cluster.ids.length]!;
      const invokeMs = performance.now();
      const reply = await cluster.get(node, key, { timeoutMs });
      const completeMs = performance.now();
      if (reply.status === 200) ops.push({ kind: "read", client: `r${n}`, key, value: String(reply.json?.value), invokeMs, completeMs, node });
      else if (reply.status === 404) ops.push({ kind: "read", client: `r${n}`, key, value: null, invokeMs, completeMs, node });
      else await Bun.sleep(10);
    }
  }

  const loops = [
    ...Array.from({ length: options.writers ?? 2 }, (_, n) => writer(n)),
    ...Array.from({ length: options.readers ?? 3 }, (_, n) => reader(n)),
  ];
  return {
    ops,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return ops;
    },
  };
}

function describeOp(op: Op): string {
  const done = Number.isFinite(op.completeMs) ? op.completeMs.toFixed(0) : "unknown";
  return `${op.kind} ${op.key}=${op.value ?? "(none)"} by ${op.client} on node ${op.node} [${op.invokeMs.toFixed(0)}, ${done}] ms`;
}

/** checkHistory lists every violation of the four conditions above, as sentences. */
export function checkHistory(ops: Op[]): string[] {
  const violations: string[] = [];
  const byKey = new Map<string, Op[]>();
  for (const op of ops) byKey.set(op.key, [...(byKey.get(op.key) ?? []), op]);
  for (const [key, list] of byKey) {
    const writes = new Map<string, Op>();
    for (const op of list) if (op.kind === "write" && op.value !== null) writes.set(op.value, op);
    const acked = list.filter((op) => op.kind === "write" && Number.isFinite(op.completeMs));
    const reads = list.filter((op) => op.kind === "read").sort((a, b) => a.invokeMs - b.invokeMs);
    for (const read of reads) {
      if (read.value === null) {
        const before = acked.find((w) => w.completeMs < read.invokeMs);
        if (before !== undefined) violations.push(`${describeOp(read)} found no value after ${describeOp(before)}`);
        continue;
      }
      const source = writes.get(read.value);
      if (source === undefined) {
        violations.push(`${describeOp(read)} returned a value no client wrote to ${key}`);
        continue;
      }
      if (source.invokeMs > read.completeMs) violations.push(`${describeOp(read)} returned the value of a later ${describeOp(source)}`);
      const overwrite = acked.find((w) => w !== source && w.invokeMs > source.completeMs && w.completeMs < read.invokeMs);
      if (overwrite !== undefined) {
        violations.push(`${describeOp(read)} is stale: ${describeOp(source)} was overwritten by ${describeOp(overwrite)} before the read began`);
      }
    }
    // Condition 3: reads ordered in real time never go back to a value definitely older than one already seen.
    for (const earlier of reads) {
      if (earlier.value === null) continue;
      const seen = writes.get(earlier.value);
      if (seen === undefined) continue;
      for (const later of reads) {
        if (later.invokeMs <= earlier.completeMs || later.value === null || later.value === earlier.value) continue;
        const older = writes.get(later.value);
        if (older !== undefined && older.completeMs < seen.invokeMs) {
          violations.push(`${describeOp(later)} went back in time: ${describeOp(earlier)} had already returned a newer value`);
        }
      }
    }
  }
  return violations;
}
