// trace_load.ts: where a put waits under many connections, from the QKLZL_TRACE files of a 3-node run
// (src/shared/trace.ts). trace_put.ts follows one put at a time (c=1); here entries overlap, so each segment is
// taken per entry index from "first stamp whose index reaches it" (an append or an ack covers every entry up to
// its index), and the event loops' stalls are read from the gaps between consecutive stamps of each process.
//   export QKLZL_TRACE=/tmp/t; start the three nodes; unset QKLZL_TRACE; wrk -t2 -c64 ... ; stop the nodes
//   bun scripts/trace_load.ts /tmp/t.*
// Only the last stretch of load counts (proposals never 100 ms apart: a warm-up run before it is left out), and
// of that, entries proposed from 1 s after its start to 1 s before its end (no ramp-up, no stop).
import { readFileSync } from "node:fs";
import { TracePoint } from "../src/shared/trace.ts";

type Row = [point: number, index: number, extra: number, us: number];
interface Proc {
  node: number;
  rows: Row[];
}

function load(file: string): Proc {
  const rows = readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(" ").map(Number) as Row)
    .sort((a, b) => a[3] - b[3]);
  return { node: rows.find((r) => r[0] === TracePoint.node)?.[2] ?? 0, rows };
}

/** exact: per index, the time of its first `point` stamp. */
function exact(p: Proc, point: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of p.rows) if (r[0] === point && !out.has(r[1])) out.set(r[1], r[3]);
  return out;
}

/** reaching: per index of `wanted` (ascending), the first time a `point` stamp (passing `keep`) had an index ≥ it. */
function reaching(p: Proc, point: number, wanted: number[], keep: (r: Row) => boolean = () => true): Map<number, number> {
  const front: Array<[number, number]> = []; // (a new highest index, when)
  let highest = -Infinity;
  for (const r of p.rows) {
    if (r[0] !== point || !keep(r) || r[1] <= highest) continue;
    highest = r[1];
    front.push([r[1], r[3]]);
  }
  const out = new Map<number, number>();
  let j = 0;
  for (const i of wanted) {
    while (j < front.length && front[j]![0] < i) j++;
    if (j < front.length) out.set(i, front[j]![1]);
  }
  return out;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const procs = process.argv.slice(2).map(load);
if (procs.length === 0) throw new Error("usage: bun scripts/trace_load.ts TRACE_FILE...");
const count = (p: Proc, point: number) => p.rows.reduce((n, r) => n + (r[0] === point ? 1 : 0), 0);
const leader = procs.reduce((a, b) => (count(b, TracePoint.proposed) > count(a, TracePoint.proposed) ? b : a));
const followers = procs.filter((p) => p !== leader);

const proposed = exact(leader, TracePoint.proposed);
const all = [...proposed.keys()].sort((a, b) => a - b);
let start = all.length - 1;
while (start > 0 && proposed.get(all[start]!)! - proposed.get(all[start - 1]!)! < 100_000) start--;
const first = proposed.get(all[start]!)! + 1e6;
const last = proposed.get(all.at(-1)!)! - 1e6;
if (last <= first) throw new Error("trace_load: the last stretch of load is shorter than 2 s");
const wanted = all.filter((i) => proposed.get(i)! > first && proposed.get(i)! < last);

const leaderSaved = exact(leader, TracePoint.saved);
const answered = exact(leader, TracePoint.answered);
const perFollower = followers.map((f) => ({
  node: f.node,
  sent: reaching(leader, TracePoint.sent, wanted, (r) => r[2] === f.node && r[1] >= 0),
  appendIn: reaching(f, TracePoint.appendIn, wanted),
  saved: exact(f, TracePoint.saved),
  ackSent: reaching(f, TracePoint.sent, wanted),
  ackIn: reaching(leader, TracePoint.ackIn, wanted, (r) => r[2] === f.node),
}));

const segments = new Map<string, number[]>();
const entries: Array<{ total: number; parts: Map<string, number> }> = [];
for (const i of wanted) {
  const p = proposed.get(i)!;
  const done = answered.get(i);
  if (done === undefined) continue;
  const parts = new Map<string, number>();
  for (const f of perFollower) {
    const times = [f.sent.get(i), f.appendIn.get(i), f.saved.get(i), f.ackSent.get(i), f.ackIn.get(i)];
    if (times.some((t) => t === undefined)) continue;
    const [sent, appendIn, saved, ackSent, ackIn] = times as number[];
    parts.set(`n${f.node} proposed → append queued`, sent! - p);
    parts.set(`n${f.node} queued → stepped there`, appendIn! - sent!);
    parts.set(`n${f.node} stepped → durable`, saved! - appendIn!);
    parts.set(`n${f.node} durable → ack queued`, ackSent! - saved!);
    parts.set(`n${f.node} ack queued → stepped`, ackIn! - ackSent!);
    parts.set(`n${f.node} proposed → its ack`, ackIn! - p);
  }
  const own = leaderSaved.get(i);
  if (own !== undefined) parts.set("leader proposed → durable", own - p);
  parts.set("leader proposed → answered", done - p);
  for (const [k, v] of parts) (segments.get(k) ?? segments.set(k, []).get(k)!).push(v);
  entries.push({ total: done - p, parts });
}

console.log(`${entries.length} entries (leader node ${leader.node}); µs:`);
const names = [...segments.keys()].sort();
for (const k of names) {
  const v = segments.get(k)!;
  console.log(`  ${k.padEnd(32)} p50 ${quantile(v, 0.5).toFixed(0).padStart(6)}  p90 ${quantile(v, 0.9).toFixed(0).padStart(6)}  p99 ${quantile(v, 0.99).toFixed(0).padStart(6)}`);
}
entries.sort((a, b) => b.total - a.total);
const slowest = entries.slice(0, Math.max(1, Math.floor(entries.length / 100)));
console.log(`the slowest 1 % (${slowest.length}), median of each segment among them:`);
for (const k of names) {
  const v = slowest.map((e) => e.parts.get(k)).filter((x): x is number => x !== undefined);
  if (v.length > 0) console.log(`  ${k.padEnd(32)} ${quantile(v, 0.5).toFixed(0).padStart(6)}`);
}

// Stalls: no stamp at all for a while in a process that stamps every few µs under load; the same window of
// time for every process, so a stall of the whole machine shows at the same instant in all three.
console.log("stamp gaps (no stamp in the process for that long), over the same window:");
for (const p of procs) {
  const times = p.rows.map((r) => r[3]).filter((t) => t > first && t < last);
  const gaps: Array<[number, number]> = [];
  for (let k = 1; k < times.length; k++) if (times[k]! - times[k - 1]! > 1000) gaps.push([times[k - 1]!, times[k]! - times[k - 1]!]);
  const span = (last - first) / 1e6;
  const over = (ms: number) => gaps.filter((g) => g[1] > ms * 1000).length;
  const sum = gaps.reduce((s, g) => s + g[1], 0) / 1e6;
  const biggest = [...gaps].sort((a, b) => b[1] - a[1]).slice(0, 6).map((g) => `${((g[0] - first) / 1e6).toFixed(3)} s: ${(g[1] / 1000).toFixed(1)} ms`);
  console.log(`  node ${p.node}: > 1 ms ${gaps.length} (${((sum / span) * 100).toFixed(0)} % of ${span.toFixed(1)} s), > 3 ms ${over(3)}, > 5 ms ${over(5)}, > 8 ms ${over(8)}; longest at ${biggest.join(", ")}`);
}
