import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { ImageWriter, image_magic_v2 } from "../../src/kv/image_codec.ts";
import { KvStateMachine } from "../../src/kv/index.ts";
import { MvccStore } from "../../src/kv/mvcc_store.ts";
import { readImage, writeImage } from "../../src/kv/snapshot_image.ts";
import { RecordReader } from "../../src/kv/value_arena.ts";

const packr = new Packr({ useRecords: false });

/** Version: create, mod, sub, version, lease, tombstone, value (the image's seven items). */
type Version = [number, number, number, number, number, boolean, string];

/** image builds a v2 image by hand: one KEYS slice with these keys (header counts as given). */
async function image(keys: [string, Version[]][], header: { revision: number; compacted: number; keys?: number; versions?: number }, raw?: (w: ImageWriter) => void): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const writer = new ImageWriter(async (chunk) => void chunks.push(new Uint8Array(chunk)), image_magic_v2);
  const versions = keys.reduce((n, [, list]) => n + list.length, 0);
  writer.frame(packr.pack({ format: 2, index: 5, revision: header.revision, compacted: header.compacted, keys: header.keys ?? keys.length, versions: header.versions ?? versions, dedup: 0, hash: "0000000000000000" }));
  writer.beginSlice();
  writer.uint(1);
  let items = 1;
  for (const [key, list] of keys) {
    writer.string(key);
    writer.uint(list.length);
    items += 2;
    for (const [create, mod, sub, version, lease, tombstone, value] of list) {
      for (const n of [create, mod, sub, version, lease]) writer.uint(n);
      writer.bool(tombstone);
      writer.string(value);
      items += 7;
    }
  }
  raw?.(writer);
  writer.endSlice(items + (raw === undefined ? 0 : 1));
  await writer.flush();
  return Buffer.concat(chunks);
}

async function refusal(data: Uint8Array): Promise<string> {
  const target = new KvStateMachine();
  target.apply(1, { op: "put", key: "kept", value: "yes" });
  const error = await target.restore(data).then(() => null, (e: unknown) => e as { code: string; message: string });
  expect(target.get("kept")).toBe("yes");
  expect(error?.code).toBe("storage_corrupt");
  return error!.message;
}

describe("kv snapshot image v2 decoding", () => {
  test("a hand-made image decodes (the hash check is what refuses it), and a real one round-trips", async () => {
    const data = await image([["a", [[2, 2, 0, 1, 0, false, "x"]]], ["b", [[3, 3, 0, 1, 0, false, "y"], [3, 4, 0, 2, 0, false, "z"]]]], { revision: 4, compacted: 1 });
    expect(await refusal(data)).toContain("hash");
    const sm = new KvStateMachine();
    sm.apply(1, { op: "put", key: "é", value: "1" });
    sm.apply(2, { op: "put", key: "\u{1F600}", value: "2" });
    sm.apply(3, { op: "put", key: "\uE000", value: "3" });
    sm.apply(4, { op: "put", key: "é", value: "4" });
    sm.apply(5, { op: "delete", key: "\uE000" });
    const restored = new KvStateMachine();
    await restored.restore((await sm.snapshot()).data);
    expect(restored.stats()).toEqual(sm.stats());
    expect(restored.range({ key: "\0", range_end: "\0" }).kvs.map((kv) => kv.key)).toEqual(["é", "\u{1F600}"]);
  });

  test("keys out of byte order, or twice, are refused", async () => {
    const v: Version[] = [[2, 2, 0, 1, 0, false, "x"]];
    expect(await refusal(await image([["b", v], ["a", v]], { revision: 3, compacted: 1 }))).toContain("out of order");
    expect(await refusal(await image([["a", v], ["a", v]], { revision: 3, compacted: 1 }))).toContain("out of order");
    // U+E000 sorts before U+1F600 in UTF-8 byte order (not in UTF-16 code units).
    expect(await refusal(await image([["\u{1F600}", v], ["\uE000", v]], { revision: 3, compacted: 1 }))).toContain("out of order");
  });

  test("bad items, counts and revisions are refused", async () => {
    const v: Version[] = [[2, 2, 0, 1, 0, false, "x"]];
    expect(await refusal(await image([["a", [[2, 5, 0, 1, 0, false, "x"]]]], { revision: 3, compacted: 1 }))).toContain("bad mod revision");
    expect(await refusal(await image([["a", [[2, 3, 0, 1, 0, false, "x"], [2, 2, 0, 2, 0, false, "x"]]]], { revision: 3, compacted: 1 }))).toContain("bad mod revision");
    expect(await refusal(await image([["a", v]], { revision: 3, compacted: 1, keys: 2 }))).toContain("keys, header says");
    expect(await refusal(await image([["a", [[1, 1, 0, 0, 0, true, ""]]]], { revision: 3, compacted: 2 }))).toContain("compacted tombstone");
    // Only a key's oldest version may be at or below the compacted revision (the store counts kept records by it).
    expect(await refusal(await image([["a", [[1, 1, 0, 1, 0, false, "x"], [1, 2, 0, 2, 0, false, "y"]]]], { revision: 3, compacted: 2 }))).toContain("two versions at or below");
    // A trailing item that is not a key (a boolean where a string belongs).
    expect(await refusal(await image([["a", v]], { revision: 3, compacted: 1 }, (w) => w.bool(true)))).toContain("bad key entry");
    expect(await refusal(await image([["a", v]], { revision: 3, compacted: 1 }, (w) => {
      w.string("b");
    }))).toContain("bad key entry");
  });
});

/** CountingReader counts chain steps: how many records the writer has walked so far. */
class CountingReader extends RecordReader {
  steps = 0;
  override prev(loc: number): number {
    this.steps++;
    return super.prev(loc);
  }
}

describe("kv snapshot image writing", () => {
  test("the synchronous start of an image walks only a few keys, however many the store holds (no pass over every chain)", async () => {
    const store = new MvccStore();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5000; i++) {
        const txn = store.beginWrite();
        store.put(txn, { key: `key-${String(i).padStart(5, "0")}`, value: `v${round}` });
        store.endWrite(txn);
      }
    }
    const fixed = store.image();
    const inner = fixed.reader as unknown as { chunks: Uint8Array[]; views: DataView[] };
    const reader = new CountingReader(inner.chunks, inner.views);
    const chunks: Uint8Array[] = [];
    // A clock that moves 5 ms per reading: every budget check (4 ms) finds its burst over, so what runs before
    // the first yield is only what the writer does without looking at the clock.
    const realNow = performance.now.bind(performance);
    let fake = realNow();
    Object.defineProperty(performance, "now", { value: () => (fake += 5), configurable: true });
    let done: Promise<void>;
    let stepsBeforeYield: number;
    try {
      done = writeImage(async (chunk) => void chunks.push(new Uint8Array(chunk)), { index: 15000, store: { ...fixed, reader }, dedup: [], leases: [], auth: null, hash: "0" });
      stepsBeforeYield = reader.steps;
    } finally {
      Object.defineProperty(performance, "now", { value: realNow, configurable: true });
    }
    await done;
    // The old writer counted every chain first (15,000 steps) before its first await.
    expect(stepsBeforeYield).toBeLessThan(100);
    expect(reader.steps).toBeGreaterThanOrEqual(15000);
    expect(fixed.versions).toBe(15000);
    const restored = await readImage(Buffer.concat(chunks), {});
    expect(restored.store.contentHash()).toBe(store.contentHash());
    expect(restored.store.image().versions).toBe(15000);
  });
});
