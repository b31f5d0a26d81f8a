// stall_monitor.ts: a --preload for a node run from source that writes, when the node gets SIGTERM, one line per
// event that matters for a latency tail: event-loop gaps over 8 ms (a 1 ms timer chain), the entries applied per
// 100 ms, automatic snapshots (start, end) and slow calls of the per-write housekeeping (arena compaction steps,
// MVCC compaction, the log's compaction, the synchronous part of a WAL save). Times are ms since the process
// started; three nodes started within a second line up well enough to see what hits all replicas at once (it is
// how the arena pass of 2026-12-03 showed up: gaps of 20-65 ms on all three nodes together, apply at 640/s).
//   bun --preload scripts/stall_monitor.ts src/cli/main.ts -id 1 ...   (STALL_OUT=DIR, default /tmp: DIR/stalls.n<id>.txt)
//   scripts/stall_run.sh [DURATION] runs a 3-node cluster so, with wrk -c64 on the leader, and prints the stalls.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MvccStore } from "../src/kv/mvcc_store.ts";
import { ValueArena } from "../src/kv/value_arena.ts";
import { Applier } from "../src/node/applier.ts";
import { Snapshotter } from "../src/node/snapshotter.ts";
import { Wal } from "../src/storage/wal.ts";

const started = performance.now();
const idAt = process.argv.indexOf("-id");
const id = idAt >= 0 ? process.argv[idAt + 1] : String(process.pid);
const lines: string[] = [];
/** lines_max bounds what a long run keeps (the newest are dropped past it, and counted). */
const lines_max = 200_000;
let droppedLines = 0;
const note = (what: string) => {
  if (lines.length < lines_max) lines.push(`${(performance.now() - started).toFixed(0)} n${id} ${what}`);
  else droppedLines++;
};

// The main thread's schedstat (ns on a CPU, ns runnable but waiting, slices) at each tick: a gap is then split
// into the loop's own work and the time it waited for a core (STALL_SCHEDSTAT=0 turns the reads off).
const withSchedstat = process.env.STALL_SCHEDSTAT !== "0";
const schedstat = (): number[] => (withSchedstat ? readFileSync("/proc/thread-self/schedstat", "utf8").trim().split(" ").map(Number) : [0, 0, 0]);
let last = performance.now();
let lastSched = schedstat();
let appliedAtTick = 0;
let applied = 0;
setInterval(() => {
  const now = performance.now();
  const sched = schedstat();
  if (now - last > 8) {
    const run = (sched[0]! - lastSched[0]!) / 1e6;
    const wait = (sched[1]! - lastSched[1]!) / 1e6;
    note(`gap ${(now - last).toFixed(1)} run ${run.toFixed(1)} wait ${wait.toFixed(1)} slices ${sched[2]! - lastSched[2]!} applied ${applied - appliedAtTick}`);
  }
  appliedAtTick = applied;
  last = now;
  lastSched = sched;
}, 1);

type Method = (this: unknown, ...args: unknown[]) => unknown;
/** timed wraps a prototype method: a call longer than minMs is noted (an async one also when it settles late). */
function timed(proto: object, name: string, minMs: number): void {
  const methods = proto as Record<string, Method>;
  const original = methods[name];
  if (typeof original !== "function") throw new Error(`stall_monitor: no method ${name}`);
  methods[name] = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    const result = original.apply(this, args);
    const ms = performance.now() - t0;
    if (ms > minMs) note(`${name} ${ms.toFixed(1)}`);
    if (result instanceof Promise) {
      result.then(
        () => {
          const total = performance.now() - t0;
          if (total > 20) note(`${name}-settled ${total.toFixed(1)}`);
        },
        () => {},
      );
    }
    return result;
  };
}
timed(ValueArena.prototype, "tend", 1);
timed(ValueArena.prototype, "startCompaction", 1);
timed(MvccStore.prototype, "compact", 1);
timed(Wal.prototype, "compact", 1);
timed(Wal.prototype, "save", 2);

const apply = (Applier.prototype as unknown as Record<string, Method>).apply!;
(Applier.prototype as unknown as Record<string, Method>).apply = function (this: unknown, ...args: unknown[]) {
  applied += (args[0] as unknown[]).length;
  return apply.apply(this, args);
};
let appliedBefore = 0;
setInterval(() => {
  note(`rate ${(applied - appliedBefore) * 10}`);
  appliedBefore = applied;
}, 100);

const write = (Snapshotter.prototype as unknown as Record<string, Method>).write!;
(Snapshotter.prototype as unknown as Record<string, Method>).write = function (this: unknown, ...args: unknown[]) {
  note("snapshot-start");
  const t0 = performance.now();
  const result = write.apply(this, args) as Promise<unknown>;
  result.then(
    () => note(`snapshot-end ${(performance.now() - t0).toFixed(0)}`),
    () => note("snapshot-failed"),
  );
  return result;
};

process.on("SIGTERM", () => {
  if (droppedLines > 0) lines.push(`${(performance.now() - started).toFixed(0)} n${id} dropped ${droppedLines} lines`);
  writeFileSync(join(process.env.STALL_OUT ?? "/tmp", `stalls.n${id}.txt`), `${lines.join("\n")}\n`);
  process.exit(0);
});
