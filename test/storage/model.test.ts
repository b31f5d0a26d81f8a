// Randomized check of the WAL against a dumb model: random saves (with tail overwrites), hard states, local
// snapshots with compaction, received snapshots, issued with and without awaiting, tiny segments, and reopens.
// The log must always agree with the model, and a reopen must give back exactly the state before it.
import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import { openStorage, type FileStorage } from "../../src/storage/index.ts";
import type { HardState, SnapshotMeta } from "../../src/raft/types.ts";
import { entryOk, normal, tempDir } from "./helpers.ts";

const dirs: string[] = [];
afterAll(() => {
  if (!process.env.KEEP) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** mulberry32: small seeded PRNG so a failure can be replayed from the printed seed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Model {
  terms: Map<number, number>;
  last: number;
  snap: SnapshotMeta;
  /** floor: entries below it were dropped by a received snapshot and must not be served. */
  floor: number;
  hs: HardState;
}

function meta(index: number, term: number): SnapshotMeta {
  return { index, term, conf: { members: [] } };
}

interface Observed {
  first: number;
  last: number;
  terms: number[];
  hs: HardState;
  snap: SnapshotMeta;
}

function observe(s: FileStorage): Observed {
  const log = s.log;
  const terms: number[] = [];
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) terms.push(log.term(i)!);
  return { first: log.firstIndex(), last: log.lastIndex(), terms, hs: log.hardState(), snap: log.snapshotMeta() };
}

function check(s: FileStorage, model: Model, context: string): void {
  const log = s.log;
  expect({ context, last: log.lastIndex() }).toEqual({ context, last: model.last });
  expect(log.snapshotMeta()).toEqual(model.snap);
  expect(log.hardState()).toEqual(model.hs);
  expect(log.firstIndex()).toBeGreaterThanOrEqual(model.floor);
  expect(log.firstIndex()).toBeLessThanOrEqual(model.snap.index + 1);
  expect(log.term(model.snap.index)).toBe(model.snap.term);
  for (let i = log.firstIndex(); i <= log.lastIndex(); i++) {
    if (log.term(i) !== model.terms.get(i)) expect({ context, index: i, term: log.term(i) }).toEqual({ context, index: i, term: model.terms.get(i)! });
  }
  const entries = log.entries(log.firstIndex(), log.lastIndex() + 1, Infinity);
  expect(entries.length).toBe(log.lastIndex() - log.firstIndex() + 1);
  expect(entries.every(entryOk)).toBe(true);
}

async function run(seed: number, steps: number): Promise<void> {
  const rand = prng(seed);
  const dir = tempDir("qklzl-model-");
  dirs.push(dir);
  const segmentBytes = 300 + rand(700);
  let s = await openStorage({ dir, nodeId: 1, segmentBytes, snapshotsRetained: 1 + rand(3) });
  const model: Model = { terms: new Map(), last: 0, snap: meta(0, 0), floor: 1, hs: { term: 0, vote: 0, commit: 0 } };
  let term = 1;
  let pending: Promise<void>[] = [];
  for (let step = 0; step < steps; step++) {
    const context = `seed ${seed} step ${step}`;
    const op = rand(100);
    const log = s.log;
    if (op < 60) {
      const lo = rand(4) === 0 ? Math.max(log.firstIndex(), model.snap.index + 1, model.last + 1 - rand(6)) : model.last + 1;
      if (lo <= model.last) term++;
      const count = 1 + rand(6);
      const entries = Array.from({ length: count }, (_, i) => normal(lo + i, term, rand(40)));
      const hs = rand(2) === 0 ? { term, vote: rand(3), commit: model.snap.index } : null;
      pending.push(log.save(entries, hs));
      for (let i = lo; i <= model.last; i++) model.terms.delete(i);
      for (const e of entries) model.terms.set(e.index, e.term);
      model.last = lo + count - 1;
      if (hs !== null) model.hs = hs;
    } else if (op < 70 && model.last > model.snap.index) {
      // Local snapshot at an entry we hold, then compaction behind a random trailing window.
      await Promise.all(pending.splice(0));
      const index = model.snap.index + 1 + rand(model.last - model.snap.index);
      const m = meta(index, model.terms.get(index)!);
      await s.snapshots.save(m, new Uint8Array([index & 255]));
      model.snap = m;
      await log.compact(Math.max(0, index - rand(30)));
    } else if (op < 75) {
      // Received snapshot: sometimes matching an entry we hold, sometimes beyond our log with a new term.
      await Promise.all(pending.splice(0));
      let m: SnapshotMeta;
      if (rand(2) === 0 && model.last > model.snap.index) {
        const index = model.snap.index + 1 + rand(model.last - model.snap.index);
        m = meta(index, model.terms.get(index)!);
      } else {
        term++;
        m = meta(model.last + 1 + rand(20), term);
      }
      await s.snapshots.save(m, new Uint8Array([1]));
      await log.installSnapshot(m);
      const matched = model.terms.get(m.index) === m.term;
      if (!matched) {
        model.terms.clear();
        model.last = m.index;
      }
      for (const i of [...model.terms.keys()]) if (i <= m.index) model.terms.delete(i);
      model.snap = m;
      model.floor = m.index + 1;
    } else if (op < 80) {
      await Promise.all(pending.splice(0));
      const before = observe(s);
      await s.close();
      s = await openStorage({ dir, nodeId: 1, segmentBytes, snapshotsRetained: 3 });
      expect(observe(s)).toEqual(before);
    } else if (op < 85) {
      const hs = { term, vote: rand(3), commit: model.snap.index };
      pending.push(log.save([], hs));
      model.hs = hs;
    }
    check(s, model, context);
    if (pending.length > 16) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const before = observe(s);
  await s.close();
  s = await openStorage({ dir, nodeId: 1, segmentBytes });
  expect(observe(s)).toEqual(before);
  check(s, model, `seed ${seed} final`);
  await s.close();
}

test("random operations agree with the model and survive reopens", async () => {
  const base = Number(process.env.STORAGE_SEED ?? Date.now() % 100000);
  // At least 3 seeds, more while the time budget lasts (the machine is shared).
  const deadline = Date.now() + 6_000;
  for (let i = 0; i < 12 && (i < 3 || Date.now() < deadline); i++) {
    const seed = base + i;
    try {
      await run(seed, 200);
    } catch (error) {
      console.error(`model test failed with seed ${seed} (replay: STORAGE_SEED=${seed})`);
      throw error;
    }
  }
}, 60_000);
