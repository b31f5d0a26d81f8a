import { describe, expect, test } from "bun:test";
import { decodeEntry, encodeCommand, encodeRequest } from "../../src/kv/command.ts";

// decodeEntry takes a leader's own short-form entry from encodedHere (command.ts) instead of reading its bytes.
// What it answers must be exactly what any other node reads from a copy of those bytes.

/** A tiny seeded generator (mulberry32): the same rounds on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const alphabet = ["a", "Z", "0", "-", "/", " ", "\u0000", "\u007f", "é", "键", "😀", '"', "\\"];

function text(next: () => number, maxLength: number): string {
  const length = Math.floor(next() * (maxLength + 1));
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

describe("decodeEntry of an entry encoded in this process", () => {
  test("answers what a copy of the bytes decodes to, once from memory and then from the bytes (seeded rounds)", () => {
    const next = rng(54);
    for (let round = 0; round < 2000; round++) {
      const key = text(next, 40) || "k";
      const id = next() < 0.3 ? `req-${text(next, 8)}` : undefined;
      const bytes = next() < 0.8 ? encodeCommand({ op: "put", key, value: text(next, next() < 0.1 ? 600 : 120) }, id) : encodeCommand({ op: "delete", key }, id);
      const copied = decodeEntry(new Uint8Array(bytes));
      expect(decodeEntry(bytes)).toEqual(copied);
      expect(decodeEntry(bytes)).toEqual(copied); // the second time reads the bytes
    }
  });

  test("is taken from memory: bytes changed after encoding do not change the first decode (entries are immutable)", () => {
    const bytes = encodeCommand({ op: "put", key: "bench-key-00000001", value: "v".repeat(100) });
    bytes[bytes.length - 1] = "w".charCodeAt(0);
    expect(decodeEntry(bytes)).toEqual({ request: { kind: "put", put: { key: "bench-key-00000001", value: "v".repeat(100) } }, requestId: null, legacy: false });
    expect(decodeEntry(bytes).request).toEqual({ kind: "put", put: { key: "bench-key-00000001", value: `${"v".repeat(99)}w` } });
  });

  test("a large value still goes to the store as a view of its bytes, and a lone surrogate is read from the bytes", () => {
    const large = encodeCommand({ op: "put", key: "big", value: "x".repeat(2000) });
    const decoded = decodeEntry(large);
    expect(decoded.request.kind === "put" && decoded.request.put.value_bytes?.length).toBe(2000);
    // encodeRequest of an unvalidated lone surrogate: its bytes hold U+FFFD, and that is what applies everywhere.
    const lone = encodeRequest({ kind: "put", put: { key: "k", value: "a\ud800" } });
    const fromCopy = decodeEntry(new Uint8Array(lone));
    expect(decodeEntry(lone)).toEqual(fromCopy);
    expect(fromCopy.request).toEqual({ kind: "put", put: { key: "k", value: "a\ufffd" } });
  });
});
