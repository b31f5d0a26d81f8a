// The randomized WAL workload shared by the model test (real disk) and the power-loss sweep (PowerFs):
// random saves (with tail overwrites), hard states, local snapshots with compaction, received snapshots, issued
// with and without awaiting, tiny segments, clean reopens and (with PowerFs) process crashes. The log is checked
// against a dumb model after every step; History keeps every logical state in order, so a power-loss image can be
// checked against "the acknowledged operations, plus a prefix of the ones in flight".
import { expect } from "bun:test";
import { openStorage, type FileStorage, type StorageFs } from "../../src/storage/index.ts";
import type { Entry, HardState, SnapshotMeta } from "../../src/raft/types.ts";
import { entryOk, normal } from "./helpers.ts";

/** prng (mulberry32): small seeded PRNG so a failure can be replayed from the printed seed. */
export function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

export function meta(index: number, term: number): SnapshotMeta {
  return { index, term, conf: { members: [] } };
}

/** LogState: the logical content of the log after some operations (what a reopen must give back). */
export interface LogState {
  /** terms[i]: term of entry i for i ≤ last (entries below the log's first index may be listed too). */
  terms: number[];
  last: number;
  snap: SnapshotMeta;
  /** floor: entries below it were dropped by a snapshot record and must not be served. */
  floor: number;
  hs: HardState;
}

export type LogOp =
  | { kind: "save"; entries: Entry[]; hs: HardState | null }
  | { kind: "note"; meta: SnapshotMeta }
  | { kind: "install"; meta: SnapshotMeta };

export const emptyState: LogState = { terms: [], last: 0, snap: meta(0, 0), floor: 1, hs: { term: 0, vote: 0, commit: 0 } };

function holds(state: LogState, m: SnapshotMeta): boolean {
  return m.index <= state.last && m.index >= state.floor && state.terms[m.index] === m.term;
}

/** applyOp is what the WAL's image does for each operation (mem_log.ts), on the model. */
export function applyOp(state: LogState, op: LogOp): LogState {
  if (op.kind === "save") {
    if (op.entries.length === 0) return { ...state, hs: op.hs ?? state.hs };
    const lo = op.entries[0]!.index;
    const terms = state.terms.slice(0, lo);
    for (const e of op.entries) terms[e.index] = e.term;
    return { ...state, terms, last: op.entries[op.entries.length - 1]!.index, hs: op.hs ?? state.hs };
  }
  const m = op.meta;
  if (!holds(state, m)) return { ...state, terms: [], last: m.index, snap: m, floor: m.index + 1 };
  if (op.kind === "note") return { ...state, snap: m };
  return { ...state, snap: m, floor: m.index + 1 };
}

/** History: the logical states in issue order (states[k] after op k) and which ops were acknowledged. */
export class History {
  states: LogState[];
  ops: (LogOp | null)[];
  private acked: boolean[];
  /** ackedPrefix: ops 1..ackedPrefix all resolved (promises resolve in call order, so this is all that did). */
  ackedPrefix = 0;

  constructor(initial: LogState = emptyState) {
    this.states = [initial];
    this.ops = [null];
    this.acked = [true];
  }

  current(): LogState {
    return this.states[this.states.length - 1]!;
  }

  /** issue records op before the storage call is made (its writes may start at once); returns its number. */
  issue(op: LogOp): number {
    this.states.push(applyOp(this.current(), op));
    this.ops.push(op);
    this.acked.push(false);
    return this.states.length - 1;
  }

  ack(k: number): void {
    this.acked[k] = true;
    while (this.ackedPrefix + 1 < this.acked.length && this.acked[this.ackedPrefix + 1]) this.ackedPrefix++;
  }

  /** restart makes `state` the only, acknowledged state (a reopened log is served as durable). */
  restart(state: LogState): void {
    this.states = [state];
    this.ops = [null];
    this.acked = [true];
    this.ackedPrefix = 0;
  }

  /** track: ack op k once its promise resolves; the promise is returned for awaiting. */
  track(k: number, promise: Promise<void>): Promise<void> {
    return promise.then(() => this.ack(k));
  }
}

/** Window: the states a cut may leave: from states[from] (all acked) up to states[to] (all issued). */
export interface Window {
  states: LogState[];
  ops: (LogOp | null)[];
  from: number;
  to: number;
}

export function windowOf(history: History): Window {
  return { states: history.states, ops: history.ops, from: history.ackedPrefix, to: history.states.length - 1 };
}

/** candidates: every state a replay of a prefix of the issued ops can give, the last save possibly torn. */
export function* candidates(w: Window): Generator<LogState> {
  for (let j = w.from; j <= w.to; j++) yield w.states[j]!;
  for (let j = w.from + 1; j <= w.to; j++) {
    const op = w.ops[j]!;
    if (op.kind !== "save") continue;
    // One write per save: entries then the hard state; a torn write keeps whole records only (CRC).
    const whole = op.hs === null ? op.entries.length - 1 : op.entries.length;
    for (let m = 1; m <= whole; m++) yield applyOp(w.states[j - 1]!, { kind: "save", entries: op.entries.slice(0, m), hs: null });
  }
}

export interface Observed {
  first: number;
  last: number;
  terms: number[];
  hs: HardState;
  snap: SnapshotMeta;
}

export function observe(s: FileStorage): Observed {
  const log = s.log;
  const terms: number[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) terms.push(log.term(i)!);
  return { first: log.firstIndex(), last: log.lastIndex(), terms, hs: log.hardState(), snap: log.snapshotMeta() };
}

function sameMeta(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return a.index === b.index && a.term === b.term && JSON.stringify(a.conf) === JSON.stringify(b.conf);
}

/** matches: the reopened log holds exactly the state c (entries below its first index may be compacted). */
export function matches(o: Observed, c: LogState): boolean {
  if (o.last !== c.last || !sameMeta(o.snap, c.snap)) return false;
  if (o.hs.term !== c.hs.term || o.hs.vote !== c.hs.vote || o.hs.commit !== c.hs.commit) return false;
  if (o.first < c.floor || o.first > c.snap.index + 1) return false;
  for (let i = o.first; i <= o.last; i++) if (o.terms[i - o.first] !== c.terms[i]) return false;
  return true;
}

/** problems: what is wrong with a reopened log given the window of states a cut may leave; [] when fine. */
export function problems(s: FileStorage, w: Window): string[] {
  const o = observe(s);
  const out: string[] = [];
  if (o.hs.commit > o.last) out.push(`hard state commit ${o.hs.commit} covers entries that are gone (last index ${o.last})`);
  if (o.snap.index > o.last) out.push(`snapshot ${o.snap.index} is beyond the log (last index ${o.last})`);
  if (o.first > o.snap.index + 1) out.push(`first index ${o.first} leaves a gap after snapshot ${o.snap.index}`);
  const bad = s.log.entries(o.first, o.last + 1, Infinity).find((e) => !entryOk(e));
  if (bad !== undefined) out.push(`entry ${bad.index} has damaged data`);
  let found = false;
  for (const c of candidates(w)) {
    if (matches(o, c)) {
      found = true;
      break;
    }
  }
  if (!found) {
    const acked = w.states[w.from]!;
    out.push(
      `the log [${o.first}, ${o.last}] snapshot ${o.snap.index} hard state ${JSON.stringify(o.hs)} is no prefix of the issued ` +
        `operations ${w.from + 1}..${w.to} after the acknowledged state (last ${acked.last}, snapshot ${acked.snap.index}, ` +
        `hard state ${JSON.stringify(acked.hs)})`,
    );
  }
  return out;
}

/** matchingState: the candidate the reopened log matches (after a crash it becomes the new acknowledged state). */
export function matchingState(s: FileStorage, w: Window): LogState | null {
  const o = observe(s);
  for (const c of candidates(w)) if (matches(o, c)) return c;
  return null;
}

function check(s: FileStorage, state: LogState, context: string): void {
  const log = s.log;
  expect({ context, last: log.lastIndex() }).toEqual({ context, last: state.last });
  expect(log.snapshotMeta()).toEqual(state.snap);
  expect(log.hardState()).toEqual(state.hs);
  expect(log.firstIndex()).toBeGreaterThanOrEqual(state.floor);
  expect(log.firstIndex()).toBeLessThanOrEqual(state.snap.index + 1);
  expect(log.term(state.snap.index)).toBe(state.snap.term);
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) {
    if (log.term(i) !== state.terms[i]) expect({ context, index: i, term: log.term(i) }).toEqual({ context, index: i, term: state.terms[i]! });
  }
  const entries = log.entries(log.firstIndex(), log.lastIndex() + 1, Infinity);
  expect(entries.length).toBe(log.lastIndex() - log.firstIndex() + 1);
  expect(entries.every(entryOk)).toBe(true);
}

export interface WorkloadOptions {
  seed: number;
  steps: number;
  dir: string;
  /** files: the file layer (default node:fs). */
  files?: StorageFs;
  /** crash (PowerFs only) kills the process's files; enables crash steps (work in flight, then crash, reopen). */
  crash?: () => void;
  /** history receives every logical operation (the power-loss sweep reads its window at each cut). */
  history?: History;
}

function ticks(n: number): Promise<void> {
  let p = Promise.resolve();
  for (let i = 0; i < n; i++) p = p.then(() => new Promise((resolve) => setImmediate(resolve)));
  return p;
}

/** runWorkload runs `steps` random steps, checking the log against the model after each; throws on a mismatch. */
export async function runWorkload(options: WorkloadOptions): Promise<void> {
  const { seed, steps, dir } = options;
  const rand = prng(seed);
  const history = options.history ?? new History();
  const segmentBytes = 300 + rand(700);
  const files = options.files === undefined ? {} : { files: options.files };
  const open = (snapshotsRetained: number) => openStorage({ dir, nodeId: 1, segmentBytes, snapshotsRetained, ...files });
  let s = await open(1 + rand(3));
  let term = 1;
  let pending: Promise<void>[] = [];
  const state = () => history.current();

  /** localSnapshot publishes a snapshot at an entry we hold, then compacts behind a random trailing window. */
  const localSnapshot = async (): Promise<void> => {
    const now = state();
    const index = now.snap.index + 1 + rand(now.last - now.snap.index);
    const m = meta(index, now.terms[index]!);
    const trailing = rand(30);
    const k = history.issue({ kind: "note", meta: m });
    await history.track(k, s.snapshots.save(m, new Uint8Array([index & 255])));
    await s.log.compact(Math.max(0, index - trailing));
  };
  /** receivedSnapshot: sometimes matching an entry we hold, sometimes beyond our log with a new term. */
  const receivedSnapshot = async (): Promise<void> => {
    const now = state();
    let m: SnapshotMeta;
    if (rand(2) === 0 && now.last > now.snap.index) {
      const index = now.snap.index + 1 + rand(now.last - now.snap.index);
      m = meta(index, now.terms[index]!);
    } else {
      term++;
      m = meta(now.last + 1 + rand(20), term);
    }
    const note = history.issue({ kind: "note", meta: m });
    await history.track(note, s.snapshots.save(m, new Uint8Array([1])));
    const install = history.issue({ kind: "install", meta: m });
    await history.track(install, s.log.installSnapshot(m));
  };

  for (let step = 0; step < steps; step++) {
    const context = `seed ${seed} step ${step}`;
    const op = rand(100);
    const log = s.log;
    const now = state();
    if (op < 60) {
      // Never overwrite a committed entry (Raft does not); commit may cover the entries of this very save.
      const floor = Math.max(log.firstIndex(), now.snap.index + 1, now.hs.commit + 1);
      const lo = rand(4) === 0 ? Math.max(floor, now.last + 1 - rand(6)) : now.last + 1;
      if (lo <= now.last) term++;
      const count = 1 + rand(6);
      const entries = Array.from({ length: count }, (_, i) => normal(lo + i, term, rand(40)));
      const last = lo + count - 1;
      const commit = rand(3) === 0 ? last : now.hs.commit + rand(last - now.hs.commit + 1);
      const hs = rand(2) === 0 ? { term, vote: rand(3), commit } : null;
      const k = history.issue({ kind: "save", entries, hs });
      pending.push(history.track(k, log.save(entries, hs)));
    } else if (op < 70 && now.last > now.snap.index) {
      await Promise.all(pending.splice(0));
      await localSnapshot();
    } else if (op < 75) {
      await Promise.all(pending.splice(0));
      await receivedSnapshot();
    } else if (op < 80) {
      await Promise.all(pending.splice(0));
      const before = observe(s);
      await s.close();
      s = await open(3);
      expect(observe(s)).toEqual(before);
    } else if (op < 85) {
      const hs = { term, vote: rand(3), commit: now.hs.commit };
      const k = history.issue({ kind: "save", entries: [], hs });
      pending.push(history.track(k, log.save([], hs)));
    } else if (op < 90 && options.crash !== undefined) {
      // A process crash with work in flight: whatever the page cache holds is what the next open serves.
      const background = rand(3);
      if (background === 1 && now.last > now.snap.index) void localSnapshot().catch(() => {});
      if (background === 2) void receivedSnapshot().catch(() => {});
      await ticks(rand(12));
      options.crash();
      pending = [];
      const window = windowOf(history);
      s = await open(3);
      const found = matchingState(s, window);
      if (found === null) throw new Error(`${context}: after a crash: ${problems(s, window).join("; ")}`);
      // The reopened log is served (and counted toward commit) as durable: from now on it must survive.
      history.restart(found);
    }
    check(s, state(), context);
    if (pending.length > 16) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const before = observe(s);
  await s.close();
  s = await open(2);
  expect(observe(s)).toEqual(before);
  check(s, state(), `seed ${seed} final`);
  await s.close();
}
