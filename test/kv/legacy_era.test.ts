import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { KvStateMachine, encodeCommand, hashHex, pairHash, readImageSummary } from "../../src/kv/index.ts";
import type { Event, KvCommand } from "../../src/kv/index.ts";

/**
 * The v1 era (data written by qklzl before revisions): replicas of one log hold v1 snapshot images taken at
 * different indexes (or none), then the v1 entries after them. Whatever mix each one had, they must be the same
 * state at every index they share: hash, revisions, every key's create/mod revision and version.
 */
const packr = new Packr({ useRecords: false });

/** An entry of a test log: a v1 write as the binary from before revisions encoded it, a v2 one, or a skip. */
type LogEntry = { kind: "v1"; command: KvCommand } | { kind: "v2"; command: KvCommand } | { kind: "skip" };

function v1Bytes(command: KvCommand): Uint8Array {
  return packr.pack(command.op === "put" ? [1, command.key, command.value] : [2, command.key]);
}

/** v1Image: what the binary from before revisions wrote as a snapshot at `index` of `map` ("QKV1", header, pairs). */
function v1Image(index: number, map: Map<string, string>): Uint8Array {
  let hash = 0n;
  const pairs: string[] = [];
  for (const [key, value] of map) {
    hash ^= pairHash(key, value);
    pairs.push(key, value);
  }
  const frames = [packr.pack({ index, count: map.size, hash: hashHex(hash) })];
  if (pairs.length > 0) frames.push(packr.pack(pairs));
  const parts: Uint8Array[] = [Buffer.from("QKV1")];
  for (const frame of frames) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(frame.length);
    parts.push(length, frame);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** mapAt: the key-value map after the entries up to `index` (what a v1 snapshot there holds). */
function mapAt(log: LogEntry[], index: number): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of log.slice(0, index)) {
    if (entry.kind === "skip") continue;
    if (entry.command.op === "put") map.set(entry.command.key, entry.command.value);
    else map.delete(entry.command.key);
  }
  return map;
}

function applyAt(sm: KvStateMachine, index: number, entry: LogEntry): void {
  if (entry.kind === "skip") sm.skip(index);
  else sm.applyEntry(index, entry.kind === "v1" ? v1Bytes(entry.command) : encodeCommand(entry.command));
}

/** Observed: everything a client or `qklzl check` can see of a replica's state. */
function observed(sm: KvStateMachine) {
  return { stats: sm.stats(), kvs: sm.range({ key: "\0", range_end: "\0" }).kvs };
}

/** Start: a replica's beginning: a v1 image at an index, or a v2 image a replica of today's code took there. */
type Start = { v1: number } | { v2: number };

/**
 * replicas: one from an empty store, and one per start; each applies the log after its start and records what
 * it shows at every index from `from` (at least the last start's index) on, and checks that its revision
 * never goes backwards.
 */
async function replicas(log: LogEntry[], starts: (number | Start)[], from: number): Promise<ReturnType<typeof observed>[][]> {
  const runs: ReturnType<typeof observed>[][] = [];
  for (const given of [0, ...starts]) {
    const spec: Start = typeof given === "number" ? { v1: given } : given;
    let sm = new KvStateMachine();
    let start = 0;
    if ("v1" in spec && spec.v1 > 0) {
      start = spec.v1;
      await sm.restore(v1Image(start, mapAt(log, start)));
    } else if ("v2" in spec) {
      start = spec.v2;
      for (let index = 1; index <= start; index++) applyAt(sm, index, log[index - 1]!);
      const image = (await sm.snapshot()).data;
      sm = new KvStateMachine();
      await sm.restore(image);
      expect(sm.appliedIndex).toBe(start);
    }
    let revision = sm.revision;
    const seen: ReturnType<typeof observed>[] = [];
    if (start >= from) seen.push(observed(sm)); // a restored image shows its index's state too
    for (let index = start + 1; index <= log.length; index++) {
      applyAt(sm, index, log[index - 1]!);
      if (!(sm.revision >= revision)) throw new Error(`revision ${sm.revision} after ${revision} at index ${index}`);
      revision = sm.revision;
      if (index >= from) seen.push(observed(sm));
    }
    runs.push(seen);
  }
  return runs;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** randomLog: a conf change and a noop, `v1` entries of the old binary (puts, deletes, some of nothing, noops), then today's. */
function randomLog(seed: number, v1: number, v2: number): LogEntry[] {
  const r = rng(seed);
  const command = (i: number): KvCommand => {
    const key = `k${Math.floor(r() * 12)}`;
    return r() < 0.3 ? { op: "delete", key } : { op: "put", key, value: `v${i}` };
  };
  const log: LogEntry[] = [{ kind: "skip" }, { kind: "skip" }];
  for (let i = 0; i < v1; i++) log.push(r() < 0.1 ? { kind: "skip" } : { kind: "v1", command: command(i) });
  log.push({ kind: "skip" }); // the upgraded leader's noop
  for (let i = 0; i < v2; i++) log.push(r() < 0.1 ? { kind: "skip" } : { kind: "v2", command: command(v1 + i) });
  return log;
}

describe("kv: the v1 era applies the same on every replica", () => {
  test("replicas that restored v1 snapshots at different indexes, and one that replayed the v1 log, agree at every index", async () => {
    // 1-2: conf change, noop; 3-9: v1 writes (8 deletes nothing); 10: a noop; 11-12: v1; 13: the upgrade's noop;
    // 14-17: today's entries.
    const log: LogEntry[] = [
      { kind: "skip" },
      { kind: "skip" },
      { kind: "v1", command: { op: "put", key: "a", value: "1" } },
      { kind: "v1", command: { op: "put", key: "b", value: "2" } },
      { kind: "v1", command: { op: "put", key: "a", value: "3" } },
      { kind: "v1", command: { op: "delete", key: "b" } },
      { kind: "v1", command: { op: "put", key: "c", value: "4" } },
      { kind: "v1", command: { op: "delete", key: "zz" } },
      { kind: "v1", command: { op: "put", key: "d", value: "5" } },
      { kind: "skip" },
      { kind: "v1", command: { op: "put", key: "c", value: "6" } },
      { kind: "v1", command: { op: "delete", key: "d" } },
      { kind: "skip" },
      { kind: "v2", command: { op: "put", key: "a", value: "7" } },
      { kind: "v2", command: { op: "put", key: "e", value: "8" } },
      { kind: "v2", command: { op: "delete", key: "c" } },
      { kind: "v2", command: { op: "put", key: "a", value: "9" } },
    ];
    const runs = await replicas(log, [5, 8, { v2: 9 }, 10, { v2: 11 }, 12, 13], 13);
    for (const run of runs.slice(1)) expect(run).toEqual(runs[0]!);
    const end = runs[0]![runs[0]!.length - 1]!;
    // The v1 era ends at 13 (the last entry before today's first): its keys are settled there, as a v1
    // snapshot at 13 would have restored them; today's entries write at 14, 15, 16, 17.
    expect(end.kvs).toEqual([
      { key: "a", value: "9", create_revision: 13, mod_revision: 17, version: 3, lease: 0 },
      { key: "e", value: "8", create_revision: 15, mod_revision: 15, version: 1, lease: 0 },
    ]);
    expect([end.stats.revision, end.stats.compact_revision]).toEqual([17, 13]);
  });

  test("random v1 histories and snapshot points: every replica shows the same at every shared index", async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const log = randomLog(seed, 40, 15);
      const r = rng(seed * 7919);
      const points = Array.from({ length: 3 }, () => 1 + Math.floor(r() * 43)).sort((a, b) => a - b);
      const v2At = 1 + Math.floor(r() * 43);
      const from = Math.max(v2At, points[points.length - 1]!);
      const runs = await replicas(log, [...points, { v2: v2At }], from);
      for (const run of runs.slice(1)) expect({ seed, run }).toEqual({ seed, run: runs[0]! });
    }
  });
});

describe("kv: the v1 era as clients see it", () => {
  /** eraAt12: a store in the v1 era at index 12 (a v1 image at 6, then v1 entries and a noop). */
  async function eraAt12(): Promise<KvStateMachine> {
    const sm = new KvStateMachine();
    await sm.restore(v1Image(6, new Map([["a", "1"], ["b", "2"]])));
    sm.applyEntry(7, v1Bytes({ op: "put", key: "c", value: "3" }));
    sm.applyEntry(8, v1Bytes({ op: "put", key: "a", value: "4" }));
    sm.skip(9);
    sm.applyEntry(10, v1Bytes({ op: "delete", key: "b" }));
    sm.applyEntry(11, v1Bytes({ op: "delete", key: "nope" }));
    sm.applyEntry(12, v1Bytes({ op: "put", key: "d", value: "5" }));
    return sm;
  }

  test("reads: every key at the index's revision, no history, filters and sorts as on one revision", async () => {
    const sm = await eraAt12();
    const at = (kv: { key: string; value: string }) => ({ ...kv, create_revision: 12, mod_revision: 12, version: 1, lease: 0 });
    const all = { key: "\0", range_end: "\0" };
    expect(sm.range(all)).toEqual({ kvs: [at({ key: "a", value: "4" }), at({ key: "c", value: "3" }), at({ key: "d", value: "5" })], count: 3, more: false, revision: 12 });
    expect(sm.getKv("c")).toEqual(at({ key: "c", value: "3" }));
    expect([sm.revision, sm.compactedRevision, sm.size]).toEqual([12, 12, 3]);
    expect(sm.range({ ...all, revision: 12 }).count).toBe(3);
    expect(() => sm.range({ ...all, revision: 11 })).toThrow("compacted");
    expect(() => sm.range({ ...all, revision: 13 })).toThrow("ahead of the current revision");
    expect(sm.range({ ...all, min_mod_revision: 13 })).toEqual({ kvs: [], count: 3, more: false, revision: 12 });
    expect(sm.range({ ...all, max_create_revision: 11 })).toEqual({ kvs: [], count: 3, more: false, revision: 12 });
    expect(sm.range({ ...all, min_mod_revision: 12, max_mod_revision: 12, min_create_revision: 1 }).kvs.length).toBe(3);
    expect(sm.range({ ...all, sort_target: "mod", sort_order: "desc" }).kvs.map((kv) => kv.key)).toEqual(["a", "c", "d"]);
    expect(sm.range({ ...all, sort_target: "value", sort_order: "desc" }).kvs.map((kv) => kv.key)).toEqual(["d", "a", "c"]);
    expect(sm.range({ ...all, limit: 2, keys_only: true })).toEqual({ kvs: [at({ key: "a", value: "" }), at({ key: "c", value: "" })], count: 3, more: true, revision: 12 });
    expect(sm.range({ ...all, count_only: true })).toEqual({ kvs: [], count: 3, more: false, revision: 12 });
    expect(sm.events(13, 12)).toEqual([]);
    // A noop moves the era's revision (every key with it): a v1 image taken there would show that.
    sm.skip(13);
    expect([sm.revision, sm.getKv("a")?.mod_revision]).toEqual([13, 13]);
  });

  test("the watch feed hears each v1 write at its index, with the previous kv as the index before showed it", async () => {
    const sm = await eraAt12();
    const heard: [number, Event[]][] = [];
    sm.onEvents = (revision, events) => heard.push([revision, events]);
    sm.applyEntry(13, v1Bytes({ op: "put", key: "a", value: "6" }));
    sm.applyEntry(14, v1Bytes({ op: "delete", key: "c" }));
    sm.applyEntry(15, v1Bytes({ op: "delete", key: "c" })); // nothing to delete: nothing to hear
    sm.applyEntry(16, v1Bytes({ op: "put", key: "e", value: "7" }));
    const kv = (key: string, value: string, revision: number) => ({ key, value, create_revision: revision, mod_revision: revision, version: 1, lease: 0 });
    expect(heard).toEqual([
      [13, [{ type: "put", kv: kv("a", "6", 13), prev_kv: kv("a", "4", 12) }]],
      [14, [{ type: "delete", kv: { key: "c", value: "", create_revision: 0, mod_revision: 14, version: 0, lease: 0 }, prev_kv: kv("c", "3", 13) }]],
      [16, [{ type: "put", kv: kv("e", "7", 16) }]],
    ]);
  });

  test("a snapshot taken in the era carries it (format 6); after the era a snapshot is a normal image", async () => {
    const sm = await eraAt12();
    const image = (await sm.snapshot()).data;
    expect(readImageSummary(image)).toMatchObject({ format: 6, index: 12, revision: 12, keys: 3, hash: sm.stats().hash });
    const again = new KvStateMachine();
    await again.restore(image);
    expect(observed(again)).toEqual(observed(sm));
    for (const replica of [sm, again]) {
      replica.skip(13);
      replica.applyEntry(14, encodeCommand({ op: "put", key: "a", value: "x" }));
    }
    expect(observed(again)).toEqual(observed(sm));
    expect(sm.getKv("c")).toEqual({ key: "c", value: "3", create_revision: 13, mod_revision: 13, version: 1, lease: 0 });
    expect(sm.getKv("a")).toMatchObject({ create_revision: 13, mod_revision: 14, version: 2 });
    expect(readImageSummary((await sm.snapshot()).data)).toMatchObject({ format: 2, revision: 14 });
  });

  test("a format 6 image whose records are not at the era's revision is refused", async () => {
    const sm = await eraAt12();
    const image = Buffer.from((await sm.snapshot()).data);
    // The first key's create revision (12 = 0x0c) follows its key ("a") and version count in the KEYS slice.
    const at = image.indexOf(Buffer.from([0xa1, 0x61, 0x01, 0x0c, 0x0c]));
    expect(at).toBeGreaterThan(0);
    image[at + 3] = 0x0b;
    await expect(new KvStateMachine().restore(new Uint8Array(image))).rejects.toThrow("is not at the v1 era's revision");
  });

  test("a v1 entry after the era (a log that mixes them) writes as before, at max(next revision, index)", async () => {
    const sm = await eraAt12();
    sm.applyEntry(13, encodeCommand({ op: "put", key: "a", value: "x" }));
    expect(sm.revision).toBe(13);
    sm.skip(14);
    sm.skip(15);
    expect(sm.applyEntry(16, v1Bytes({ op: "put", key: "b", value: "y" }))).toEqual({ kind: "put", put: { revision: 16 } });
    expect(sm.getKv("a")).toMatchObject({ create_revision: 12, mod_revision: 13, version: 2 });
    expect(sm.getKv("b")).toMatchObject({ create_revision: 16, mod_revision: 16, version: 1 });
  });
});
