// trace: opt-in timestamps along one write's path (issue 16: where the time of a put at one connection goes).
// QKLZL_TRACE=PREFIX turns it on: every stamp records (point, index, extra, µs) in preallocated arrays, written to
// PREFIX.<pid> when the process exits (scripts/trace_put.ts joins the nodes' files by entry index and prints the
// p50 of each segment). The clock is performance.timeOrigin + performance.now(): one epoch for every process
// on the machine, so the leader's and the followers' stamps compare directly (Bun's process.hrtime counts from
// the process's own start, measured: two processes differ by their start times). Off (the default), a stamp is
// one test of a constant.
import { writeFileSync } from "node:fs";

/** Point names the place of a stamp; the numbers are what the file holds (trace_put.ts reads them by name). */
export const TracePoint = {
  /** httpIn: POST /kv's handler starts (Bun has parsed the request line and headers). */
  httpIn: 1,
  /** bodyRead: the body's bytes are read. */
  bodyRead: 2,
  /** proposed: the core appended the entry (index known). */
  proposed: 3,
  /** readyIn: the Ready carrying the entry reaches handleReady (leader: new entry; follower: received entry). */
  readyIn: 4,
  /** sent: a message was handed to the transport (encoded and queued); index = last entry / acked index. */
  sent: 5,
  /** socketWrite: a coalesced batch went to a peer socket (index -1: belongs to the sends just before it). */
  socketWrite: 6,
  /** walWritten: save() wrote the record; the fdatasync is queued. */
  walWritten: 7,
  /** syncStart / syncDone: the WAL's fdatasync begins / its completion runs on the event loop (index -1). */
  syncStart: 8,
  syncDone: 9,
  /** saved: handleReady resumes after the save resolved. */
  saved: 10,
  /** ackIn: the leader steps an append answer (index = the follower's match, extra = the follower's id). */
  ackIn: 11,
  /** applied: the entry is applied to the state machine. */
  applied: 12,
  /** answered: POST /kv's handler has its Response (the write's promise resolved and the JSON is built). */
  answered: 13,
  /** dataIn: bytes arrived on an inbound peer connection (index -1). */
  dataIn: 14,
  /** appendIn: a follower steps an append with entries (index = its last entry). */
  appendIn: 15,
  /** readyOut: handleReady is done (advance follows). */
  readyOut: 16,
  /** node: the runtime started (extra = this node's id), so the files can be told apart. */
  node: 17,
} as const;
export type TracePoint = (typeof TracePoint)[keyof typeof TracePoint];

const prefix = process.env.QKLZL_TRACE ?? "";
/** tracing: QKLZL_TRACE is set; every stamp call site tests it first. */
export const tracing = prefix !== "";

const capacity = tracing ? 4_000_000 : 0;
const points = new Uint8Array(capacity);
const indexes = new Float64Array(capacity);
const extras = new Float64Array(capacity);
const times = new Float64Array(capacity);
let count = 0;
const origin = performance.timeOrigin;

/** stamp records `point` for `index` now (callers guard with `if (tracing)`); past the capacity stamps are dropped. */
export function stamp(point: TracePoint, index: number, extra = 0): void {
  if (count >= capacity) return;
  points[count] = point;
  indexes[count] = index;
  extras[count] = extra;
  // µs since the epoch (~1.8e15) are exact to a quarter of a µs in a double.
  times[count] = (origin + performance.now()) * 1000;
  count++;
}

function dump(): void {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(`${points[i]} ${indexes[i]} ${extras[i]} ${times[i]}`);
  writeFileSync(`${prefix}.${process.pid}`, `${lines.join("\n")}\n`);
}

if (tracing) process.on("exit", dump);
