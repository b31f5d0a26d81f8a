import { describe, expect, test } from "bun:test";
import { Packr } from "msgpackr";
import { decodeEntry, encodeCommand, encodeRawPut } from "../../src/kv/command.ts";
import { decodeShortEntry } from "../../src/kv/short_decode.ts";

const packr = new Packr({ useRecords: false });

/** generic: what msgpackr makes of the bytes under command.ts's short-form rules ("refused" when it throws). */
function generic(data: Uint8Array): unknown {
  let body: unknown;
  try {
    body = packr.unpack(data);
  } catch {
    return "refused";
  }
  if (!Array.isArray(body)) return "other";
  const [tag, id, key, value] = body as unknown[];
  if ((id !== null && typeof id !== "string") || typeof key !== "string" || key.length === 0) return "refused";
  if (tag === 16 && body.length === 4 && typeof value === "string") return { request: { kind: "put", put: { key, value } }, requestId: id, legacy: false };
  if (tag === 17 && body.length === 3) return { request: { kind: "delete_range", delete_range: { key } }, requestId: id, legacy: false };
  return "other";
}

/** plain: a decoded entry with a put read as a view of its bytes (short_put_view.ts) given as its string. */
function plain(entry: ReturnType<typeof decodeEntry>): unknown {
  if (entry.request.kind !== "put" || entry.request.put.value_bytes === undefined) return entry;
  return { ...entry, request: { kind: "put", put: { key: entry.request.put.key, value: entry.request.put.value } } };
}

const texts = ["k", "bench-key-00000042", "x".repeat(31), "y".repeat(32), "z".repeat(255), "w".repeat(256), "v".repeat(70_000), "", "é", "键-key", "a\u0000b", "\u007f"];

describe("decodeShortEntry", () => {
  test("reads every plain put and delete exactly as the generic decoder does, and leaves non-ASCII text to it", () => {
    let taken = 0;
    for (const key of texts) {
      if (key.length === 0) continue;
      for (const value of texts) {
        for (const id of [undefined, "req-1", "é-id"]) {
          for (const [data, text] of [[encodeCommand({ op: "put", key, value }, id), key + value], [encodeCommand({ op: "delete", key }, id), key]] as const) {
            const fast = decodeShortEntry(data);
            const ascii = /^[\x00-\x7f]*$/.test(text + (id ?? ""));
            if (ascii) {
              expect(fast).not.toBeNull();
              taken++;
            }
            if (fast !== null) expect(fast).toEqual(generic(data) as never);
            expect(plain(decodeEntry(data))).toEqual(generic(data) as never);
          }
        }
      }
    }
    expect(taken).toBeGreaterThan(200);
  });

  test("never takes bytes the generic decoder refuses or reads otherwise (truncated, padded, flipped)", () => {
    const data = encodeCommand({ op: "put", key: "bench-key-1", value: "v".repeat(40) }, "req-7");
    const padded = new Uint8Array(data.length + 1);
    padded.set(data);
    expect(decodeShortEntry(padded)).toBeNull();
    expect(() => decodeEntry(padded)).toThrow();
    for (let len = 0; len < data.length; len++) expect(decodeShortEntry(data.subarray(0, len))).toBeNull();
    let takenDamaged = 0;
    for (let i = 0; i < data.length; i++) {
      for (const v of [0x00, 0x11, 0x7f, 0x80, 0x93, 0x94, 0xa0, 0xa1, 0xc0, 0xd9, 0xda, 0xff, data[i]! ^ 1]) {
        const b = data.slice();
        b[i] = v;
        const fast = decodeShortEntry(b);
        if (fast === null) continue;
        expect(fast).toEqual(generic(b) as never);
        takenDamaged++;
      }
    }
    expect(takenDamaged).toBeGreaterThan(0);
  });

  test("an empty key, a v1 entry and the map formats go the generic way", () => {
    expect(decodeShortEntry(packr.pack([16, null, "", "v"]))).toBeNull();
    expect(decodeShortEntry(packr.pack([1, "k", "v"]))).toBeNull();
    expect(decodeShortEntry(packr.pack({ v: 2, req: { kind: "put", put: { key: "k", value: "v" } } }))).toBeNull();
    expect(decodeEntry(packr.pack([1, "k", "v"])).legacy).toBe(true);
  });
});

// The v5 raw put ([18, id|nil, key, bin]): encodeRawPut writes by hand the bytes msgpackr's pack writes, and
// decodeShortEntry reads them in place as the generic path (msgpackr's unpack, then bytesPut) does.
describe("raw put entries (tag 18)", () => {
  const values = [0, 1, 100, 255, 256, 1024, 65_535, 65_536].map((n) => Uint8Array.from({ length: n }, (_, i) => 0x61 + (i % 26)));
  values.push(new TextEncoder().encode("h\u00e9 \u952e"));

  /** rawGeneric: the generic decoder's reading, as key, id and the value's bytes. */
  function rawGeneric(data: Uint8Array): unknown {
    const [tag, id, key, value] = packr.unpack(data) as unknown[];
    return tag === 18 && value instanceof Uint8Array ? { key, id, value: Buffer.from(value).toString("hex") } : "other";
  }

  function rawFast(data: Uint8Array): unknown {
    const entry = decodeShortEntry(data);
    if (entry === null || entry.request.kind !== "put") return null;
    return { key: entry.request.put.key, id: entry.requestId, value: Buffer.from(entry.request.put.value_bytes!).toString("hex") };
  }

  test("encodeRawPut writes msgpackr's bytes for every key, id and value size", () => {
    for (const key of texts) {
      if (key.length === 0) continue;
      for (const value of values) {
        for (const id of [undefined, "req-1", "é-id", "r".repeat(40)]) {
          const data = encodeRawPut(key, value, id);
          expect(Buffer.from(data).toString("hex")).toBe(Buffer.from(packr.pack([18, id ?? null, key, value])).toString("hex"));
        }
      }
    }
  });

  test("decodeShortEntry reads ASCII-keyed raw puts in place as the generic decoder does, the value a view of the entry", () => {
    let taken = 0;
    for (const key of texts) {
      if (key.length === 0) continue;
      for (const value of values) {
        for (const id of [undefined, "req-1", "é-id"]) {
          const data = encodeRawPut(key, value, id);
          const fast = rawFast(data);
          if (/^[\x00-\x7f]*$/.test(key + (id ?? ""))) {
            expect(fast).not.toBeNull();
            taken++;
          }
          if (fast !== null) expect(fast).toEqual(rawGeneric(data) as never);
          const entry = decodeEntry(data);
          expect(entry.request.kind === "put" && entry.request.put.value).toBe(new TextDecoder().decode(value));
        }
      }
    }
    expect(taken).toBeGreaterThan(50);
    const data = encodeRawPut("k", values[2]!);
    const view = (decodeShortEntry(data)!.request as { put: { value_bytes: Uint8Array } }).put.value_bytes;
    expect(view.buffer).toBe((data as Uint8Array).buffer);
  });

  test("damaged raw puts: never read otherwise than the generic decoder", () => {
    const data = encodeRawPut("bench-key-1", values[2]!, "req-7");
    for (let len = 0; len < data.length; len++) expect(decodeShortEntry(data.subarray(0, len))).toBeNull();
    const padded = new Uint8Array(data.length + 1);
    padded.set(data);
    expect(decodeShortEntry(padded)).toBeNull();
    let takenDamaged = 0;
    for (let i = 0; i < 24; i++) {
      for (const v of [0x00, 0x7f, 0x80, 0xa0, 0xc0, 0xc4, 0xc5, 0xc6, 0xd9, 0xff, data[i]! ^ 1]) {
        const b = Uint8Array.from(data);
        b[i] = v;
        const fast = rawFast(b);
        if (fast === null) continue;
        expect(fast).toEqual(rawGeneric(b) as never);
        takenDamaged++;
      }
    }
    expect(takenDamaged).toBeGreaterThan(0);
  });
});
