// trace_put.ts: where the time of one put goes, from the QKLZL_TRACE files of a 3-node run (src/shared/trace.ts).
//   QKLZL_TRACE=/tmp/t scripts/ab_c1_latency.sh BIN label PORTBASE 20   (the nodes write /tmp/t.<pid> at exit)
//   bun scripts/trace_put.ts /tmp/t.*
// Each put is followed by its entry index through the leader (HTTP handler, propose, Ready, sends, WAL write,
// fdatasync, acks, apply, answer) and through each follower (bytes in, step, Ready, WAL write, fdatasync, ack out).
// Stamps share one clock (the epoch in µs) across the processes. Prints the p50 (and p90, p99) of every segment in µs
// over the puts that have all their stamps, meant for one connection (c=1), where puts do not overlap;
// the slowest 1 % are ranked by their time in process and by the whole cycle to the next request.
import { readFileSync } from "node:fs";
import { TracePoint } from "../src/shared/trace.ts";

type Name = keyof typeof TracePoint;
interface Proc {
  file: string;
  node: number;
  /** byPoint: per point, stamps in time order (index, extra, µs). */
  byPoint: Map<number, { index: Float64Array; extra: Float64Array; time: Float64Array }>;
}

function load(file: string): Proc {
  const rows = readFileSync(file, "utf8").trim().split("\n").map((line) => line.split(" ").map(Number));
  const grouped = new Map<number, number[][]>();
  let node = 0;
  for (const r of rows) {
    if (r[0] === TracePoint.node) node = r[2]!;
    let list = grouped.get(r[0]!);
    if (list === undefined) grouped.set(r[0]!, (list = []));
    list.push(r);
  }
  const byPoint = new Map<number, { index: Float64Array; extra: Float64Array; time: Float64Array }>();
  for (const [point, list] of grouped) {
    list.sort((a, b) => a[3]! - b[3]!);
    byPoint.set(point, {
      index: Float64Array.from(list, (r) => r[1]!),
      extra: Float64Array.from(list, (r) => r[2]!),
      time: Float64Array.from(list, (r) => r[3]!),
    });
  }
  return { file, node, byPoint };
}

/** lowerBound: the first position whose time is >= t. */
function lowerBound(time: Float64Array, t: number): number {
  let lo = 0;
  let hi = time.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (time[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** after: the time of the first `point` stamp at or after t whose index is >= index (-1: any) and extra matches. */
function after(p: Proc, point: Name, t: number, index = -1, extra?: number): number {
  const s = p.byPoint.get(TracePoint[point]);
  if (s === undefined || Number.isNaN(t)) return NaN;
  for (let i = lowerBound(s.time, t), seen = 0; i < s.time.length && seen < 64; i++, seen++) {
    if ((index < 0 || s.index[i]! >= index) && (extra === undefined || s.extra[i] === extra)) return s.time[i]!;
  }
  return NaN;
}

/** before: the time of the last `point` stamp at or before t. */
function before(p: Proc, point: Name, t: number): number {
  const s = p.byPoint.get(TracePoint[point]);
  if (s === undefined || Number.isNaN(t)) return NaN;
  const i = lowerBound(s.time, t + 0.001) - 1;
  return i >= 0 ? s.time[i]! : NaN;
}

/** at: the time of the first `point` stamp for exactly this index. */
function at(p: Proc, point: Name, index: number, from = 0): number {
  const s = p.byPoint.get(TracePoint[point]);
  if (s === undefined) return NaN;
  for (let i = lowerBound(s.time, from); i < s.index.length; i++) if (s.index[i] === index) return s.time[i]!;
  return NaN;
}

const procs = process.argv.slice(2).map(load);
const leader = procs.find((p) => (p.byPoint.get(TracePoint.httpIn)?.time.length ?? 0) > 100);
if (leader === undefined) throw new Error("no file with POST /kv stamps (the leader's)");
const followers = procs.filter((p) => p !== leader && p.byPoint.has(TracePoint.appendIn));

const segments = new Map<string, number[]>();
/** current: this put's segments (name -> µs), for the tail: which segment the slowest puts spent their time in. */
let current = new Map<string, number>();
const slow: { total: number; parts: Map<string, number> }[] = [];
const cycles: { total: number; parts: Map<string, number> }[] = [];
const add = (name: string, from: number, to: number) => {
  if (Number.isNaN(from) || Number.isNaN(to)) return;
  let list = segments.get(name);
  if (list === undefined) segments.set(name, (list = []));
  list.push(to - from);
  if (!name.startsWith("=")) current.set(name, to - from);
};
let critical = { ownSave: 0, ack: 0 };

const proposed = leader.byPoint.get(TracePoint.proposed)!;
// Skip the first and last second of stamps: start-up and the cut at the end.
for (let k = 0; k < proposed.index.length; k++) {
  const index = proposed.index[k]!;
  const tProposed = proposed.time[k]!;
  const tHttp = before(leader, "httpIn", tProposed);
  const tBody = before(leader, "bodyRead", tProposed);
  const tReady = after(leader, "readyIn", tProposed, index);
  const tSent = after(leader, "sent", tReady, index);
  const tSock = after(leader, "socketWrite", tSent);
  const tWal = after(leader, "walWritten", tReady, index);
  const tSyncStart = after(leader, "syncStart", tWal);
  const tSyncDone = after(leader, "syncDone", tSyncStart);
  const tSaved = after(leader, "saved", tSyncDone, index);
  const tApplied = at(leader, "applied", index, tProposed);
  const tAnswered = at(leader, "answered", index, tProposed);
  if ([tHttp, tBody, tReady, tSent, tSock, tWal, tSaved, tApplied, tAnswered].some(Number.isNaN)) continue;
  // The follower whose ack reached the leader first is the one on the critical path.
  let firstAck = Infinity;
  let first: Proc | null = null;
  for (const f of followers) {
    const t = after(leader, "ackIn", tSent, index, f.node);
    if (t < firstAck) {
      firstAck = t;
      first = f;
    }
  }
  if (first === null) continue;
  current = new Map();
  const fAppend = after(first, "appendIn", tSent, index);
  const fData = before(first, "dataIn", fAppend);
  const fReady = after(first, "readyIn", fAppend, index);
  const fWal = after(first, "walWritten", fReady, index);
  const fSyncStart = after(first, "syncStart", fWal);
  const fSyncDone = after(first, "syncDone", fSyncStart);
  const fSaved = after(first, "saved", fSyncDone, index);
  const fSent = after(first, "sent", fSaved, index);
  const fSock = after(first, "socketWrite", fSent);
  add("L  http handler in -> body read", tHttp, tBody);
  add("L  body read -> proposed", tBody, tProposed);
  add("L  proposed -> Ready", tProposed, tReady);
  add("L  Ready -> appends queued", tReady, tSent);
  add("L  appends queued -> socket write", tSent, tSock);
  add("L  socket write -> WAL record written", tSock, tWal);
  add("L  WAL written -> fdatasync start", tWal, tSyncStart);
  add("L  fdatasync start -> done callback", tSyncStart, tSyncDone);
  add("L  fdatasync done -> save resolved", tSyncDone, tSaved);
  add("F  L socket write -> F bytes in", tSock, fData);
  add("F  bytes in -> append stepped", fData, fAppend);
  add("F  append stepped -> Ready", fAppend, fReady);
  add("F  Ready -> WAL record written", fReady, fWal);
  add("F  WAL written -> fdatasync start", fWal, fSyncStart);
  add("F  fdatasync (inline)", fSyncStart, fSyncDone);
  add("F  fdatasync done -> save resolved", fSyncDone, fSaved);
  add("F  save resolved -> ack queued", fSaved, fSent);
  add("F  ack queued -> socket write", fSent, fSock);
  add("F  F socket write -> L ack stepped", fSock, firstAck);
  const ready = Math.max(tSaved, firstAck);
  if (tSaved >= firstAck) critical.ownSave++;
  else critical.ack++;
  add("L  max(own save, first ack) -> applied", ready, tApplied);
  add("L  applied -> answer built", tApplied, tAnswered);
  add("=  L socket write -> first ack (replication)", tSock, firstAck);
  add("=  L socket write -> own save resolved", tSock, tSaved);
  add("=  handler in -> answer built (total in process)", tHttp, tAnswered);
  const parts = new Map(current);
  slow.push({ total: tAnswered - tHttp, parts });
  const tNext = after(leader, "httpIn", tAnswered);
  add("=  answer built -> next handler in (outside: response, wrk, request)", tAnswered, tNext);
  // The whole cycle as one client sees it (c=1): from this request's handler to the next one's.
  if (!Number.isNaN(tNext)) {
    parts.set("   outside (answer built -> next handler in)", tNext - tAnswered);
    cycles.push({ total: tNext - tHttp, parts });
  }
}

const pct = (list: number[], q: number) => {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const n = segments.get("=  handler in -> answer built (total in process)")?.length ?? 0;
console.log(`puts traced: ${n} (critical path: own save last ${critical.ownSave}, follower ack last ${critical.ack})`);
console.log(`${"segment".padEnd(72)} ${"p50 µs".padStart(8)} ${"p90 µs".padStart(8)} ${"p99 µs".padStart(8)}`);
for (const [name, list] of segments) {
  console.log(`${name.padEnd(72)} ${[0.5, 0.9, 0.99].map((q) => pct(list, q).toFixed(1).padStart(8)).join(" ")}`);
}

// The tail: among the slowest 1 % of puts, the segment that took the longest in each, and how often.
function slowest(list: { total: number; parts: Map<string, number> }[], what: string): void {
  list.sort((a, b) => b.total - a.total);
  const tail = list.slice(0, Math.max(1, Math.floor(list.length / 100)));
  const longest = new Map<string, { count: number; us: number }>();
  for (const put of tail) {
    let name = "";
    let us = -1;
    for (const [n, v] of put.parts) if (v > us) [name, us] = [n, v];
    const entry = longest.get(name) ?? { count: 0, us: 0 };
    entry.count++;
    entry.us += us;
    longest.set(name, entry);
  }
  console.log(`slowest 1 % ${what} (${tail.length} puts, ${tail[tail.length - 1]!.total.toFixed(0)} µs and more): the longest segment of each`);
  for (const [name, { count, us }] of [...longest].sort((a, b) => b[1].count - a[1].count)) {
    console.log(`  ${name.padEnd(70)} ${String(count).padStart(5)} puts, mean ${(us / count).toFixed(0)} µs`);
  }
}
slowest(slow, "in process");
if (cycles.length > 0) slowest(cycles, "by whole cycle (handler in -> next handler in)");
