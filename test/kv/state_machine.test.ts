import { describe, expect, test } from "bun:test";
import { KvStateMachine } from "../../src/kv/index.ts";
import type { KvCommand } from "../../src/kv/index.ts";

/** A tiny seeded PRNG so the randomized cases replay. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomCommands(seed: number, n: number, keys: number): KvCommand[] {
  const r = rng(seed);
  const out: KvCommand[] = [];
  for (let i = 0; i < n; i++) {
    const key = `k${Math.floor(r() * keys)}`;
    out.push(r() < 0.25 ? { op: "delete", key } : { op: "put", key, value: `v${i}-${Math.floor(r() * 1e6)}` });
  }
  return out;
}

function applyAll(sm: KvStateMachine, commands: KvCommand[]): void {
  for (const command of commands) sm.apply(sm.appliedIndex + 1, command);
}

describe("kv state machine", () => {
  test("put and delete answer with the revision; a delete of nothing makes no revision", () => {
    const sm = new KvStateMachine();
    expect(sm.apply(1, { op: "put", key: "a", value: "1" })).toEqual({ kind: "put", put: { revision: 2 } });
    expect(sm.apply(2, { op: "put", key: "a", value: "2" })).toEqual({ kind: "put", put: { revision: 3 } });
    sm.skip(3);
    expect(sm.apply(4, { op: "delete", key: "a" })).toEqual({ kind: "delete_range", delete_range: { revision: 4, deleted: 1 } });
    expect(sm.apply(5, { op: "delete", key: "a" })).toEqual({ kind: "delete_range", delete_range: { revision: 4, deleted: 0 } });
    expect(sm.get("a")).toBeUndefined();
    expect(sm.revision).toBe(4);
    expect(() => sm.apply(7, { op: "put", key: "b", value: "x" })).toThrow();
  });

  test("the hash is a function of the applied entries, and covers history and revisions, not only the map", () => {
    const writes: KvCommand[] = [{ op: "put", key: "x", value: "1" }, { op: "put", key: "y", value: "2" }, { op: "put", key: "z", value: "3" }, { op: "delete", key: "z" }];
    const a = new KvStateMachine();
    const b = new KvStateMachine();
    applyAll(a, writes);
    applyAll(b, writes);
    expect(a.stats().hash).toBe(b.stats().hash);
    // The same map reached through another history is another state.
    const c = new KvStateMachine();
    applyAll(c, [{ op: "put", key: "y", value: "0" }, { op: "put", key: "x", value: "1" }, { op: "put", key: "y", value: "2" }]);
    expect(c.get("y")).toBe(a.get("y"));
    expect(c.stats().keys).toBe(a.stats().keys);
    expect(c.stats().hash).not.toBe(a.stats().hash);
    b.apply(b.appliedIndex + 1, { op: "put", key: "y", value: "3" });
    expect(a.stats().hash).not.toBe(b.stats().hash);
  });

  test("snapshot + restore reproduces the map and its hash; restore discards previous state", async () => {
    const sm = new KvStateMachine();
    applyAll(sm, randomCommands(7, 20_000, 5_000));
    const { index, data } = await sm.snapshot();
    expect(index).toBe(20_000);
    const other = new KvStateMachine();
    applyAll(other, [{ op: "put", key: "stale-key", value: "gone after restore" }]);
    await other.restore(data);
    expect(other.stats()).toEqual(sm.stats());
    expect(other.get("stale-key")).toBeUndefined();
    for (let i = 0; i < 5_000; i++) expect(other.get(`k${i}`)).toBe(sm.get(`k${i}`));
  });

  test("writes applied while a snapshot runs do not leak into it (copy-on-write)", async () => {
    const sm = new KvStateMachine();
    applyAll(sm, randomCommands(11, 60_000, 30_000));
    const before = new Map<string, string | undefined>();
    for (let i = 0; i < 30_000; i++) before.set(`k${i}`, sm.get(`k${i}`));
    const statsBefore = sm.stats();
    const running = sm.snapshot();
    // Interleave writes with the serializer: overwrite, delete, add, delete-then-re-add.
    const later = randomCommands(12, 40_000, 40_000);
    let applied = 0;
    await new Promise<void>((resolve) => {
      const step = () => {
        for (let i = 0; i < 2_000 && applied < later.length; i++, applied++) sm.apply(sm.appliedIndex + 1, later[applied]!);
        if (applied < later.length) setImmediate(step);
        else resolve();
      };
      setImmediate(step);
    });
    const { index, data } = await running;
    expect(index).toBe(statsBefore.index);
    const restored = new KvStateMachine();
    await restored.restore(data);
    expect(restored.stats()).toEqual(statsBefore);
    for (const [key, value] of before) expect(restored.get(key)).toBe(value);
    expect(restored.get("k35000")).toBeUndefined();
    // And the live machine went on to the later state: a second snapshot captures it.
    const second = await sm.snapshot();
    const again = new KvStateMachine();
    await again.restore(second.data);
    expect(again.stats()).toEqual(sm.stats());
  });

  test("a corrupt image is refused and leaves the current state untouched", async () => {
    const sm = new KvStateMachine();
    applyAll(sm, randomCommands(3, 1_000, 500));
    const { data } = await sm.snapshot();
    const target = new KvStateMachine();
    applyAll(target, [{ op: "put", key: "keep", value: "me" }]);
    const flipped = data.slice();
    flipped[flipped.length - 3]! ^= 0x01;
    await expect(target.restore(flipped)).rejects.toThrow();
    await expect(target.restore(data.subarray(0, data.length - 10))).rejects.toThrow();
    await expect(target.restore(new Uint8Array([1, 2, 3]))).rejects.toThrow();
    expect(target.get("keep")).toBe("me");
    expect(target.appliedIndex).toBe(1);
  });

  test("values and retained history survive arena compaction (compacted history past the dead-space threshold), also under a running snapshot", async () => {
    const sm = new KvStateMachine({ retentionRevisions: 10 });
    const expected = new Map<string, string>();
    const r = rng(5);
    const put = (key: string, value: string) => {
      sm.apply(sm.appliedIndex + 1, { op: "put", key, value });
      expected.set(key, value);
    };
    // 500 keys, ~2 KB values (some multi-byte), 12k overwrites: ~24 MB written, so several compactions run.
    for (let i = 0; i < 12_000; i++) put(`k${i % 500}`, `${i}:${"é".repeat(Math.floor(r() * 10))}${"v".repeat(2000)}`);
    for (const [key, value] of expected) expect(sm.get(key)).toBe(value);
    expect(sm.memory().arenaCompactions).toBeGreaterThan(0);
    // Put i is revision i + 2; k495 was last written by put 11995 (revision 11997), before that by put 11495.
    // Reads inside the retained window still see the older version; reads before it are refused.
    const rev = sm.revision;
    expect(rev).toBe(12_001);
    expect(sm.compactedRevision).toBeGreaterThan(rev - 20);
    const older = sm.range({ key: "k495", revision: rev - 5 }).kvs[0]!;
    expect([older.mod_revision, older.version, older.value.split(":")[0]]).toEqual([11_497, 23, "11495"]);
    expect(sm.range({ key: "k495", revision: rev - 3 }).kvs[0]!.mod_revision).toBe(11_997);
    expect(() => sm.range({ key: "k495", revision: rev - 100 })).toThrow("compacted");
    const statsBefore = sm.stats();
    const before = new Map(expected);
    const running = sm.snapshot();
    for (let i = 0; i < 12_000; i++) put(`k${i % 700}`, `late-${i}-${"w".repeat(2000)}`);
    const { data } = await running;
    const restored = new KvStateMachine();
    await restored.restore(data);
    expect(restored.stats()).toEqual(statsBefore);
    for (const [key, value] of before) expect(restored.get(key)).toBe(value);
    for (const [key, value] of expected) expect(sm.get(key)).toBe(value);
  });

  test("values larger than an arena chunk (a raised --max-value-bytes) are stored, overwritten and compacted", async () => {
    const sm = new KvStateMachine({ retentionRevisions: 1 });
    const big = (tag: string) => `${tag}${"é".repeat(3 * 1024 * 1024)}`; // 6 MiB of UTF-8
    sm.apply(1, { op: "put", key: "small-1", value: "a" });
    sm.apply(2, { op: "put", key: "big", value: big("x") });
    sm.apply(3, { op: "put", key: "small-2", value: "b" });
    sm.apply(4, { op: "put", key: "big", value: big("y") }); // 6 MiB dead
    sm.apply(5, { op: "put", key: "big", value: big("z") });
    sm.apply(6, { op: "put", key: "big", value: big("w") });
    sm.apply(7, { op: "put", key: "big", value: big("v") }); // x, y, z compacted: 18 MiB dead > live: compaction
    expect(sm.get("big")).toBe(big("v"));
    expect([sm.get("small-1"), sm.get("small-2")]).toEqual(["a", "b"]);
    expect(sm.memory().arenaCompactions).toBeGreaterThan(0);
    const { data } = await sm.snapshot();
    const restored = new KvStateMachine();
    await restored.restore(data);
    expect(restored.stats()).toEqual(sm.stats());
    expect(restored.get("big")).toBe(big("v"));
  });
});
