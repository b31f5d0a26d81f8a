import { expect, test } from "bun:test";
import { decodeRange, decodeTxn, text } from "../../../src/node/grpc/codec.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

// `serializable` is a read option of a top-level Range (which member answers, with or without ReadIndex); a
// txn is answered as a whole, so its range operations are decoded to the store's RangeRequest without it.
test("a top-level range keeps serializable; a txn's range operations, nested too, are the store's requests", () => {
  expect(decodeRange({ key: bytes("k"), serializable: true })).toEqual({ key: "k", sort_target: "key", serializable: true });
  const range = { request: "request_range", request_range: { key: bytes("k"), serializable: true, limit: 2 } };
  const txn = decodeTxn({
    compare: [],
    success: [range, { request: "request_txn", request_txn: { compare: [], success: [range], failure: [] } }],
    failure: [range],
  });
  expect(txn).toEqual({
    compare: [],
    success: [{ range: { key: "k", sort_target: "key", limit: 2 } }, { txn: { compare: [], success: [{ range: { key: "k", sort_target: "key", limit: 2 } }], failure: [] } }],
    failure: [{ range: { key: "k", sort_target: "key", limit: 2 } }],
  });
});

// text(): short ASCII bytes take a latin1 shortcut; anything else the fatal UTF-8 decoder. Both must agree with
// TextDecoder on what is valid and what it decodes to, at and past the shortcut's length, Buffer or not.
test("text decodes keys and values as strict UTF-8, the ASCII shortcut included", () => {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const cases = ["", "k", "key00001234", "a".repeat(64), "b".repeat(65), "h\u00e9", "\u65e5\u672c", "x".repeat(63) + "\u00ff", "\u{1f600}"];
  for (const s of cases) {
    const raw = Buffer.from(s, "utf8");
    expect(text(raw, "key")).toBe(strict.decode(raw));
    expect(text(new Uint8Array(raw), "key")).toBe(strict.decode(raw));
    expect(text(Buffer.concat([Buffer.from("zz"), raw]).subarray(2), "key")).toBe(s);
  }
  for (const bad of [[0xff], [0x61, 0x80], [0xc3], [0xed, 0xa0, 0x80], [...Buffer.from("a".repeat(70)), 0xfe]]) {
    expect(() => text(Buffer.from(bad), "key")).toThrow("key is not valid UTF-8");
  }
  expect(() => text("k", "key")).toThrow("key must be bytes");
});
