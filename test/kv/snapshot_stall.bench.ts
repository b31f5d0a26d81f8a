// Measures a 1,000,000-key snapshot (100-byte values): time to write, longest event-loop stall while
// writing, time to restore. Run: bun test/kv/snapshot_stall.bench.ts [keys]
import { KvStateMachine } from "../../src/kv/index.ts";

const keys = Number(process.argv[2] ?? 1_000_000);
const sm = new KvStateMachine();
const value = "x".repeat(100);
let t = performance.now();
for (let i = 0; i < keys; i++) sm.apply(i + 1, { op: "put", key: `key-${i}`, value });
console.log(`apply ${keys} puts: ${(performance.now() - t).toFixed(0)} ms`);

/** stallMeter samples the loop with setImmediate and records the longest gap. */
function stallMeter(): { stop(): string } {
  let last = performance.now();
  const gaps: number[] = [];
  let running = true;
  const tickFn = () => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
    if (running) setTimeout(tickFn, 0);
  };
  setTimeout(tickFn, 0);
  return {
    stop: () => {
      running = false;
      gaps.sort((a, b) => b - a);
      const p99 = gaps[Math.floor(gaps.length / 100)] ?? 0;
      return `${gaps[0]?.toFixed(1)} (next ${gaps.slice(1, 5).map((g) => g.toFixed(0)).join(",")}; p99 ${p99.toFixed(1)}; ${gaps.length} samples)`;
    },
  };
}

let meter = stallMeter();
t = performance.now();
const rssBefore = process.memoryUsage().rss;
const { data } = await sm.snapshot();
console.log(`snapshot: ${(performance.now() - t).toFixed(0)} ms, ${(data.length / 1e6).toFixed(1)} MB, longest stall ${meter.stop()} ms, rss +${((process.memoryUsage().rss - rssBefore) / 1e6).toFixed(0)} MB`);
meter = stallMeter();
t = performance.now();
const other = new KvStateMachine();
await other.restore(data);
console.log(`restore: ${(performance.now() - t).toFixed(0)} ms, longest stall ${meter.stop()} ms, hash match ${other.stats().hash === sm.stats().hash}`);
process.exit(0);
