import { describe, expect, test } from "bun:test";
import { KvStateMachine, decodeEntry } from "../../src/kv/index.ts";

/**
 * Bytes written by qklzl before revisions (main at 66649d7): its encodeCommand and its snapshot(), printed
 * as hex by that code. They must keep applying and restoring.
 */
const v1_entries = {
  put_alpha_one: "9301a5616c706861a36f6e65", // {op:"put", key:"alpha", value:"one"}
  put_unicode_empty: "9301acd0bad0bbd18ed18720e29c93a0", // {op:"put", key:"ключ ✓", value:""}
  delete_alpha: "9202a5616c706861", // {op:"delete", key:"alpha"}
};
/** A v1 image at index 6 of: put a=1, put b="two ✓", put a=3, delete b, put 😀="", skip; hash e8bcfad7a0259e0c. */
const v1_image =
  "514b563100000027de0003a5696e64657806a5636f756e7402a468617368b0653862636661643761303235396530630000000fdd00000004a161a133a4f09f9880a0";

const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"));

describe("kv: data written before revisions", () => {
  test("v1 log entries decode to the same requests and apply: every key shows the index as its revision (as a v1 image there would)", () => {
    expect(decodeEntry(bytes(v1_entries.put_alpha_one))).toEqual({ request: { kind: "put", put: { key: "alpha", value: "one" } }, requestId: null, legacy: true });
    expect(decodeEntry(bytes(v1_entries.put_unicode_empty)).request).toEqual({ kind: "put", put: { key: "ключ ✓", value: "" } });
    expect(decodeEntry(bytes(v1_entries.delete_alpha)).request).toEqual({ kind: "delete_range", delete_range: { key: "alpha" } });
    const sm = new KvStateMachine();
    sm.skip(1);
    sm.skip(2);
    expect(sm.applyEntry(3, bytes(v1_entries.put_alpha_one))).toEqual({ kind: "put", put: { revision: 3 } });
    expect(sm.applyEntry(4, bytes(v1_entries.put_unicode_empty))).toEqual({ kind: "put", put: { revision: 4 } });
    expect(sm.applyEntry(5, bytes(v1_entries.delete_alpha))).toEqual({ kind: "delete_range", delete_range: { revision: 5, deleted: 1 } });
    expect(sm.applyEntry(6, bytes(v1_entries.delete_alpha))).toEqual({ kind: "delete_range", delete_range: { revision: 6, deleted: 0 } });
    // A replica that restored a v1 image at 6 knows only the map there: so every key is at 6, on every replica.
    expect(sm.getKv("ключ ✓")).toEqual({ key: "ключ ✓", value: "", create_revision: 6, mod_revision: 6, version: 1, lease: 0 });
    expect(sm.get("alpha")).toBeUndefined();
    expect([sm.revision, sm.compactedRevision]).toEqual([6, 6]);
    // Today's first entry ends that era where it stood: its keys stay at 6, the write is 7.
    expect(sm.apply(7, { op: "put", key: "alpha", value: "two" })).toEqual({ kind: "put", put: { revision: 7 } });
    expect(sm.getKv("ключ ✓")).toEqual({ key: "ключ ✓", value: "", create_revision: 6, mod_revision: 6, version: 1, lease: 0 });
    expect([sm.revision, sm.compactedRevision]).toEqual([7, 6]);
  });

  test("a v1 snapshot image restores: every key at the image's index as its revision, nothing older readable", async () => {
    const sm = new KvStateMachine();
    await sm.restore(bytes(v1_image));
    expect([sm.appliedIndex, sm.revision, sm.compactedRevision, sm.size]).toEqual([6, 6, 6, 2]);
    expect(sm.range({ key: "\0", range_end: "\0" }).kvs).toEqual([
      { key: "a", value: "3", create_revision: 6, mod_revision: 6, version: 1, lease: 0 },
      { key: "\u{1F600}", value: "", create_revision: 6, mod_revision: 6, version: 1, lease: 0 },
    ]);
    expect(() => sm.range({ key: "a", revision: 5 })).toThrow("compacted");
    // And it goes on in v2: the next write is revision 7; a v2 snapshot of it restores to the same state.
    sm.apply(7, { op: "put", key: "a", value: "4" });
    expect(sm.getKv("a")).toEqual({ key: "a", value: "4", create_revision: 6, mod_revision: 7, version: 2, lease: 0 });
    const again = new KvStateMachine();
    await again.restore((await sm.snapshot()).data);
    expect(again.stats()).toEqual(sm.stats());
  });

  test("a corrupted v1 image is refused (its own hash is still checked)", async () => {
    const image = bytes(v1_image);
    image[image.length - 3]! ^= 0x01;
    await expect(new KvStateMachine().restore(image)).rejects.toThrow("kv snapshot image is invalid");
  });
});
