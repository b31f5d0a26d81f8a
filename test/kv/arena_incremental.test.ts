// ValueArena's incremental compaction: a pass started when dead > live is carried out a step per write
// (tend), so no write pays for copying the whole arena. Checked against a plain model of every key's kept
// versions under random puts, deletes and MVCC-style compactions (records dropped with free, as the store
// does): after every write each key's chain in the arena holds exactly the model's versions with their
// values, a reader taken in the middle of a pass still reads what it was taken with after the pass released
// the old chunks, passes span many writes, and the live-byte count stays exact (a pass that left a live
// record behind in a released chunk fails its own assertion).
import { describe, expect, test } from "bun:test";
import { encodeUtf8Put, KvStateMachine } from "../../src/kv/index.ts";
import { KeyTable } from "../../src/kv/key_table.ts";
import { no_location, type RecordReader, ValueArena } from "../../src/kv/value_arena.ts";
import { rng } from "./watch_model.ts";

interface Version {
  mod: number;
  tombstone: boolean;
  value: Uint8Array;
}

function valueOf(mod: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (mod * 31 + i) & 0xff;
  return out;
}

/** chainOf: a key's kept records, newest first, by the rule the store keeps them (see ValueArena.tend). */
function chainOf(reader: RecordReader, head: number, floor: number): number[] {
  const out: number[] = [];
  for (let loc = head; loc !== no_location; loc = reader.prev(loc)) {
    if (reader.mod(loc) > floor || !reader.isTombstone(loc)) out.push(loc);
    if (reader.mod(loc) <= floor) break;
  }
  return out;
}

function expectChain(reader: RecordReader, head: number, floor: number, versions: Version[], key: string): void {
  const chain = chainOf(reader, head, floor);
  const got = chain.map((loc) => ({ mod: reader.mod(loc), tombstone: reader.isTombstone(loc), value: Buffer.from(reader.bytes(loc)).toString("hex") }));
  const want = versions
    .slice()
    .reverse()
    .map((v) => ({ mod: v.mod, tombstone: v.tombstone, value: Buffer.from(v.value).toString("hex") }));
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`key ${key}: chain ${JSON.stringify(got.map((g) => g.mod))} != model ${JSON.stringify(want.map((w) => w.mod))}`);
}

function run(seed: number, writes: number, keyCount: number, valueMax: number) {
  const random = rng(seed);
  const arena = new ValueArena();
  const heads = new KeyTable();
  const model = new Map<string, Version[]>();
  let revision = 0;
  let floor = 0;
  let streak = 0;
  const streaks: number[] = [];
  let midPass: { reader: RecordReader; heads: KeyTable; floor: number; model: Map<string, Version[]> } | null = null;
  let checkedMidPass = false;

  // compactTo drops what MVCC compaction drops: every version older than a key's newest at or below `to`,
  // and that one too if it is a tombstone (the key goes when it was its head).
  const compactTo = (to: number) => {
    for (const [key, versions] of model) {
      const keepFrom = versions.findLastIndex((v) => v.mod <= to);
      if (keepFrom < 0) continue;
      const dropped = versions[keepFrom]!.tombstone ? keepFrom + 1 : keepFrom;
      if (dropped === 0) continue;
      // Free the arena's copies of the dropped versions: walk the chain from the head (as the store does).
      const chain = chainOf(arena, heads.get(key)!, floor);
      for (const loc of chain.slice(chain.length - dropped)) arena.free(loc);
      versions.splice(0, dropped);
      if (versions.length === 0) {
        model.delete(key);
        heads.delete(key);
      }
    }
    floor = to;
    if (arena.wantsCompaction()) arena.startCompaction(heads);
  };

  for (let w = 0; w < writes; w++) {
    revision++;
    const key = `k${Math.floor(random() * keyCount)}`;
    const versions = model.get(key) ?? [];
    const head = heads.get(key);
    const tombstone = versions.length > 0 && !versions[versions.length - 1]!.tombstone && random() < 0.1;
    const value = tombstone ? new Uint8Array(0) : valueOf(revision, 1 + Math.floor(random() * valueMax));
    const loc = arena.put(value, { create: revision, mod: revision, sub: 0, version: 1, lease: 0, tombstone, prev: head ?? no_location });
    heads.set(key, loc);
    versions.push({ mod: revision, tombstone, value });
    model.set(key, versions);
    if (revision - floor > 60) compactTo(revision - 40);
    const wasCompacting = arena.compacting;
    arena.tend(heads, floor);
    if (wasCompacting) streak++;
    if (!arena.compacting && streak > 0) {
      streaks.push(streak);
      streak = 0;
    }
    // Take a reader in the middle of the second pass; check it once that pass is over.
    if (arena.compacting && streaks.length === 1 && midPass === null) {
      midPass = { reader: arena.reader(), heads: heads.frozenCopy(), floor, model: new Map([...model].map(([k, v]) => [k, v.slice()])) };
    }
    if (midPass !== null && !checkedMidPass && streaks.length === 2) {
      midPass.model.forEach((vs, k) => expectChain(midPass!.reader, midPass!.heads.get(k)!, midPass!.floor, vs, k));
      checkedMidPass = true;
    }
    if (w % 97 === 0 || arena.compacting) for (const [k, vs] of model) expectChain(arena, heads.get(k)!, floor, vs, k);
  }
  for (const [k, vs] of model) expectChain(arena, heads.get(k)!, floor, vs, k);
  let liveBytes = 0;
  for (const k of model.keys()) for (const loc of chainOf(arena, heads.get(k)!, floor)) liveBytes += arena.recordBytes(loc);
  return { arena, streaks, checkedMidPass, liveBytes };
}

describe("ValueArena incremental compaction", () => {
  for (const seed of [1, 7, 42]) {
    test(`seed ${seed}: chains match the model after every write; passes span many writes; a mid-pass reader stays valid`, () => {
      const { arena, streaks, checkedMidPass, liveBytes } = run(seed, 6_000, 150, 12 * 1024);
      expect(arena.compactions).toBeGreaterThanOrEqual(3);
      expect(streaks.length).toBeGreaterThanOrEqual(3);
      // 150 keys of several KiB each: a step moves at most 64 KiB or 8 records, so a pass takes well over ten writes.
      expect(Math.min(...streaks)).toBeGreaterThan(10);
      expect(checkedMidPass).toBe(true);
      expect(arena.liveBytes).toBe(liveBytes);
    });
  }

  test("compact() runs a whole pass at once, also one already under way", () => {
    const { arena } = run(3, 2_500, 40, 16 * 1024);
    const heads = new KeyTable();
    // A fresh arena with one key rewritten until a pass starts, then finished in one call.
    const a = new ValueArena();
    let head = no_location;
    for (let mod = 1; !a.wantsCompaction(); mod++) {
      const before = head;
      head = a.put(valueOf(mod, 64 * 1024), { create: mod, mod, sub: 0, version: 1, lease: 0, tombstone: false, prev: no_location });
      if (before !== no_location) a.free(before);
      heads.set("only", head);
    }
    a.startCompaction(heads);
    expect(a.compacting).toBe(true);
    a.compact(heads, Number.MAX_SAFE_INTEGER);
    expect(a.compacting).toBe(false);
    expect(a.liveBytes).toBe(a.recordBytes(heads.get("only")!));
    expect(arena.compactions).toBeGreaterThan(0);
  });

  // The store keeps each event's record location for compaction, and the arena moves records: a replica that
  // restored a snapshot in the middle (its locations rebuilt from the image) and one that never did must agree on
  // every value and on the hash after passes and history compactions (a stale location fails an assertion).
  test("a restored replica and one that never restored agree through arena passes and history compactions", async () => {
    const keys = 120;
    const value = (i: number) => new TextEncoder().encode(`${i}:`.padEnd(6_000 + (i % 7) * 1_000, String.fromCharCode(97 + (i % 26))));
    const entry = (i: number) => encodeUtf8Put(`key-${(i * 37) % keys}`, value(i));
    const steady = new KvStateMachine({ retentionRevisions: 3_000 });
    const source = new KvStateMachine({ retentionRevisions: 3_000 });
    const restoredAt = 4_000;
    for (let i = 1; i <= restoredAt; i++) {
      steady.applyEntry(i, entry(i));
      source.applyEntry(i, entry(i));
    }
    const restored = new KvStateMachine({ retentionRevisions: 3_000 });
    await restored.restore((await source.snapshot()).data);
    const passesBefore = restored.memory().arenaCompactions;
    for (let i = restoredAt + 1; i <= 16_000; i++) {
      steady.applyEntry(i, entry(i));
      restored.applyEntry(i, entry(i));
      if (i % 1_000 === 0) expect(restored.stats().hash).toBe(steady.stats().hash);
    }
    expect(restored.memory().arenaCompactions - passesBefore).toBeGreaterThanOrEqual(3);
    expect(restored.stats()).toEqual(steady.stats());
    for (let k = 0; k < keys; k++) expect(restored.get(`key-${k}`)).toBe(steady.get(`key-${k}`));
    const rev = steady.stats().revision;
    expect(restored.events(rev - 200, rev).map((e) => e.kv.mod_revision)).toEqual(steady.events(rev - 200, rev).map((e) => e.kv.mod_revision));
  });

  // With small values a record's cost dominates, not its bytes: a step copies at most 8 records (or one whole
  // chain when a key alone has more), so a pass over a long history is spread over many writes instead of
  // costing every replica ~100 ms in a handful of batches. The records stay exactly the model's through it.
  test("a step moves at most 8 records (or one key's chain): a pass over 100-byte records spans thousands of writes", () => {
    const arena = new ValueArena();
    const heads = new KeyTable();
    // chains: each key's kept records (oldest first) as the store keeps them: every version above the floor and
    // the newest at or below it; the floor trails the revision by `window`, and what falls out is freed.
    const chains = new Map<string, { loc: number; mod: number }[]>();
    const queue: { key: string; mod: number }[] = [];
    const window = 8_000;
    let mod = 0;
    let floor = 0;
    const write = (key: string) => {
      mod++;
      const loc = arena.put(valueOf(mod, 100), { create: mod, mod, sub: 0, version: 1, lease: 0, tombstone: false, prev: heads.get(key) ?? no_location });
      heads.set(key, loc);
      const chain = chains.get(key) ?? [];
      chain.push({ loc, mod });
      chains.set(key, chain);
      queue.push({ key, mod });
      floor = Math.max(0, mod - window);
      while (queue.length > 0 && queue[0]!.mod <= floor) {
        const fell = queue.shift()!;
        const kept = chains.get(fell.key)!;
        if (kept[0]!.mod < fell.mod) arena.free(kept.shift()!.loc); // an older one at or below the floor
      }
    };
    const random = rng(11);
    const key = () => `k${Math.floor(random() * 2_000)}`;
    while (!arena.wantsCompaction()) write(key());
    arena.startCompaction(heads);
    let steps = 0;
    let most = 0;
    while (arena.compacting) {
      write(key());
      let moved = 0;
      arena.tend(heads, floor, (k, from, to) => {
        moved++;
        const record = chains.get(k)!.find((r) => r.loc === from)!;
        record.loc = to;
      });
      most = Math.max(most, moved);
      steps++;
    }
    const longest = Math.max(...[...chains.values()].map((c) => c.length));
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(8 + longest); // the key that crosses the budget is copied whole
    expect(steps).toBeGreaterThan(500);
    for (const [k, chain] of chains) {
      const got: number[] = [];
      for (let loc = heads.get(k)!; loc !== no_location; loc = arena.prev(loc)) {
        got.push(arena.mod(loc));
        if (arena.mod(loc) <= floor) break;
      }
      expect(got).toEqual(chain.map((r) => r.mod).reverse());
    }
  });
});
