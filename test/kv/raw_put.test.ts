import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { decodeEntry, encodeCommand, encodeRawPut, encodeRequest, KvStateMachine } from "../../src/kv/index.ts";
import type { Event } from "../../src/kv/index.ts";
import { isQklzlError } from "../../src/shared/errors.ts";

// The raw put entry (kv/command.ts tag 18, PUT /kv/KEY): its value travels as bytes and the store copies them
// into its arena without a string. Whatever way a value came (JSON put or raw put), every replica must end in
// the same state: the same records, revisions, history, events and state hash.

const utf8 = new TextEncoder();
const packr = new Packr({ useRecords: false });

/** value: `size` UTF-8 bytes or so, with 2-, 3- and 4-byte characters, different per seed. */
function value(seed: number, size: number): string {
  const unit = `${seed}:aé€😀|`;
  return unit.repeat(Math.ceil(size / utf8.encode(unit).length));
}

function storeCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return isQklzlError(error) ? error.code : String(error);
  }
  return "no error";
}

describe("raw put entry", () => {
  test("decodes to a put whose bytes are a view of the entry and whose string is decoded on demand", () => {
    const text = value(1, 16384);
    const entry = encodeRawPut("k/ é", utf8.encode(text), "req-1");
    const decoded = decodeEntry(entry);
    expect(decoded.requestId).toBe("req-1");
    expect(decoded.legacy).toBe(false);
    if (decoded.request.kind !== "put") throw new Error("not a put");
    const put = decoded.request.put;
    expect(put.key).toBe("k/ é");
    expect(put.value_bytes).toBeInstanceOf(Uint8Array);
    expect(put.value_bytes!.buffer).toBe(entry.buffer); // a view, not a copy
    expect(put.value).toBe(text);
    expect(decodeEntry(encodeRawPut("k", new Uint8Array(0))).requestId).toBeNull();
  });

  test("applies exactly like a JSON put of the same value: same hash, values, history and events", () => {
    const json = new KvStateMachine();
    const raw = new KvStateMachine();
    const events: Record<"json" | "raw", Array<{ revision: number; events: Event[] }>> = { json: [], raw: [] };
    json.onEvents = (revision, list) => events.json.push({ revision, events: structuredClone(list) });
    raw.onEvents = (revision, list) => events.raw.push({ revision, events: structuredClone(list) });
    let index = 0;
    for (let round = 0; round < 3; round++) {
      for (const key of ["a", "b/c", "ключ"]) {
        index++;
        const text = value(index, round === 2 ? 70_000 : 300);
        json.applyEntry(index, encodeCommand({ op: "put", key, value: text }, `id-${index}`));
        raw.applyEntry(index, encodeRawPut(key, utf8.encode(text), `id-${index}`));
      }
    }
    index++; // an empty value, then a delete of a raw-written key
    json.applyEntry(index, encodeCommand({ op: "put", key: "empty", value: "" }));
    raw.applyEntry(index, encodeRawPut("empty", new Uint8Array(0)));
    index++;
    json.applyEntry(index, encodeCommand({ op: "delete", key: "a" }));
    raw.applyEntry(index, encodeCommand({ op: "delete", key: "a" }));
    expect(raw.stats()).toEqual(json.stats());
    for (const key of ["a", "b/c", "ключ", "empty"]) expect(raw.getKv(key)).toEqual(json.getKv(key));
    expect(raw.range({ key: "\0", range_end: "\0", revision: 4 })).toEqual(json.range({ key: "\0", range_end: "\0", revision: 4 }));
    expect(raw.events(1, raw.revision)).toEqual(json.events(1, json.revision));
    expect(events.raw).toEqual(events.json);
    expect(events.raw.length).toBe(index);
  });

  test("a retried request id applies once, as for the JSON put", () => {
    const sm = new KvStateMachine();
    const first = sm.applyEntry(1, encodeRawPut("k", utf8.encode("one"), "same"));
    const again = sm.applyEntry(2, encodeRawPut("k", utf8.encode("two"), "same"));
    expect(again).toEqual(first);
    expect(sm.get("k")).toBe("one");
    expect(sm.revision).toBe(2);
  });

  test("a snapshot of raw-written values restores to the same state", async () => {
    const sm = new KvStateMachine();
    for (let i = 1; i <= 20; i++) sm.applyEntry(i, encodeRawPut(`k${i % 7}`, utf8.encode(value(i, 20_000))));
    const image = await sm.snapshot();
    const restored = new KvStateMachine();
    await restored.restore(image.data);
    expect(restored.stats()).toEqual(sm.stats());
    expect(restored.get("k3")).toBe(value(17, 20_000));
  });

  test("malformed raw entries are storage_corrupt, not guessed at", () => {
    expect(storeCode(() => decodeEntry(packr.pack([18, null, "k", "a string, not bin"])))).toBe("storage_corrupt");
    expect(storeCode(() => decodeEntry(packr.pack([18, null, "", new Uint8Array(1)])))).toBe("storage_corrupt");
    expect(storeCode(() => decodeEntry(packr.pack([18, 7, "k", new Uint8Array(1)])))).toBe("storage_corrupt");
    expect(storeCode(() => decodeEntry(packr.pack([18, null, "k"])))).toBe("storage_corrupt");
  });

  test("a large JSON put's short form is read as bytes too, and applies as its string would", () => {
    let index = 0;
    const viaString = new KvStateMachine();
    const viaEntry = new KvStateMachine();
    for (const size of [10, 1000, 1023, 1024, 1025, 5000, 70_000, 300_000]) {
      for (const id of [undefined, "i".repeat(40), "j".repeat(300)]) {
        index++;
        const text = value(index, size);
        const key = `key-${size}-${"é".repeat(index % 5)}`;
        const entry = encodeCommand({ op: "put", key, value: text }, id);
        const decoded = decodeEntry(entry);
        if (decoded.request.kind !== "put") throw new Error("not a put");
        expect({ key: decoded.request.put.key, value: decoded.request.put.value, id: decoded.requestId }).toEqual({ key, value: text, id: id ?? null });
        // from 1 KiB of UTF-8 on, a view of the entry; below, msgpackr's strings as before
        expect(decoded.request.put.value_bytes !== undefined).toBe(new TextEncoder().encode(text).length >= 1024);
        viaString.applyRequest(index, { kind: "put", put: { key, value: text } }, id ?? null);
        viaEntry.applyEntry(index, entry);
      }
    }
    expect(viaEntry.stats()).toEqual(viaString.stats());
    expect(viaEntry.range({ key: "\0", range_end: "\0" })).toEqual(viaString.range({ key: "\0", range_end: "\0" }));
    // A truncated entry is still refused, by msgpackr as before.
    const whole = encodeCommand({ op: "put", key: "k", value: value(1, 5000) });
    expect(() => decodeEntry(whole.subarray(0, whole.length - 1))).toThrow();
  });

  test("the older forms still decode as before (v1, v2 short and map forms)", () => {
    expect(decodeEntry(packr.pack([1, "k", "v"]))).toEqual({ request: { kind: "put", put: { key: "k", value: "v" } }, requestId: null, legacy: true });
    expect(decodeEntry(packr.pack([16, "id", "k", "v"]))).toEqual({ request: { kind: "put", put: { key: "k", value: "v" } }, requestId: "id", legacy: false });
    expect(decodeEntry(packr.pack([17, null, "k"]))).toEqual({ request: { kind: "delete_range", delete_range: { key: "k" } }, requestId: null, legacy: false });
    const map = encodeRequest({ kind: "put", put: { key: "k", value: "v", prev_kv: true } }, "id2");
    expect(decodeEntry(map)).toEqual({ request: { kind: "put", put: { key: "k", value: "v", prev_kv: true } }, requestId: "id2", legacy: false });
  });
});
