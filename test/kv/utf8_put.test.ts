// encodeUtf8Put (a large POST /kv body's entry, made from the value's bytes) against encodeCommand (the JSON
// path's, from the value string): the same bytes for ASCII at every msgpack str header boundary, and the same
// decoded put for other UTF-8.
import { describe, expect, test } from "bun:test";
import { decodeEntry, encodeCommand, encodeUtf8Put } from "../../src/kv/index.ts";

const utf8 = new TextEncoder();

describe("encodeUtf8Put", () => {
  test("ASCII key and value: byte for byte the entry encodeCommand writes, at every header boundary", () => {
    const keyLengths = [1, 31, 32, 255, 256, 1000];
    const valueLengths = [0, 1, 31, 32, 255, 256, 1023, 1024, 16384, 65535, 65536, 70_000];
    for (const k of keyLengths) {
      for (const v of valueLengths) {
        const key = "k".repeat(k - 1) + String.fromCharCode(0x21 + (k % 90));
        const value = Array.from({ length: v }, (_, i) => String.fromCharCode(0x20 + ((i * 7 + k) % 96))).join("");
        const want = encodeCommand({ op: "put", key, value });
        const got = encodeUtf8Put(key, utf8.encode(value));
        expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
      }
    }
  });

  test("in place: with enough spare bytes before the value the entry is a view around it, the same bytes", () => {
    const value = "w".repeat(20_000);
    for (const key of ["k", "k".repeat(40), "k".repeat(300)]) {
      const opening = `{"op":"put","key":"${key}","value":"`;
      const body = utf8.encode(`${opening}${value}"}`);
      const view = body.subarray(opening.length, body.length - 2);
      const want = encodeCommand({ op: "put", key, value });
      const got = encodeUtf8Put(key, view, opening.length);
      expect(got.buffer).toBe(body.buffer);
      expect(got.byteOffset + got.length).toBe(view.byteOffset + view.length);
      expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
      // Lending fewer bytes than the head needs: a copy, the body untouched.
      const fresh = utf8.encode(`${opening}${value}"}`);
      const copied = encodeUtf8Put(key, fresh.subarray(opening.length, fresh.length - 2), 5);
      expect(copied.buffer).not.toBe(fresh.buffer);
      expect(Buffer.from(copied).equals(Buffer.from(want))).toBe(true);
      expect(new TextDecoder().decode(fresh)).toBe(`${opening}${value}"}`);
    }
  });

  test("other UTF-8: the same put when decoded", () => {
    for (const [key, value] of [["ключ", "значение".repeat(300)], ["k", "€".repeat(20_000)], ["🔑", "a🙂b".repeat(5000)], ["x", ""]] as const) {
      const got = decodeEntry(encodeUtf8Put(key, utf8.encode(value)));
      const want = decodeEntry(encodeCommand({ op: "put", key, value }));
      expect(got.request.kind).toBe("put");
      const put = got.request.kind === "put" ? got.request.put : null;
      const wantPut = want.request.kind === "put" ? want.request.put : null;
      expect(put?.key).toBe(key);
      expect(put?.value).toBe(value);
      expect(put?.value).toBe(wantPut?.value);
      expect(got.requestId).toBeNull();
    }
  });
});
