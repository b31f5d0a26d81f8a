import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { ImageWriter, image_magic_v2 } from "../../src/kv/image_codec.ts";
import { KvStateMachine } from "../../src/kv/index.ts";

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
    // A trailing item that is not a key (a boolean where a string belongs).
    expect(await refusal(await image([["a", v]], { revision: 3, compacted: 1 }, (w) => w.bool(true)))).toContain("bad key entry");
    expect(await refusal(await image([["a", v]], { revision: 3, compacted: 1 }, (w) => {
      w.string("b");
    }))).toContain("bad key entry");
  });
});
