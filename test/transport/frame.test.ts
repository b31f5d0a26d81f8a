import { describe, expect, test } from "bun:test";
import { FrameDecoder, FrameError, encodeFrame } from "../../src/transport/frame.ts";
import { parseFrame, parseMessage } from "../../src/transport/wire.ts";

const MAX = 1024 * 1024;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A seeded LCG so a failing split can be replayed. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

const values = [
  { t: "m", n: 1 },
  { big: new Uint8Array(70_000).fill(7) },
  "x",
  { nested: [1, 2, { deep: true }], s: "é€😀" },
  { bin: new Uint8Array([1, 2, 3]) },
];

describe("frame codec", () => {
  test("coalesced frames in one chunk decode in order", () => {
    const d = new FrameDecoder(MAX);
    const out = d.push(concat(values.map((v) => encodeFrame(v, MAX))));
    expect(out).toEqual(values);
    expect(d.buffered).toBe(0);
  });

  test("byte-by-byte delivery decodes every frame", () => {
    const stream = concat(values.map((v) => encodeFrame(v, MAX)));
    const d = new FrameDecoder(MAX);
    const out: unknown[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...d.push(stream.subarray(i, i + 1)));
    expect(out).toEqual(values);
  });

  test("random splits (seeded) decode every frame", () => {
    const stream = concat(values.map((v) => encodeFrame(v, MAX)));
    for (let seed = 1; seed <= 200; seed++) {
      const r = rng(seed);
      const d = new FrameDecoder(MAX);
      const out: unknown[] = [];
      for (let off = 0; off < stream.length; ) {
        const n = 1 + r(r(2) === 0 ? 8 : 40_000);
        out.push(...d.push(stream.subarray(off, off + n)));
        off += n;
      }
      if (out.length !== values.length) throw new Error(`seed ${seed}: ${out.length} frames`);
      expect(out).toEqual(values);
    }
  });

  test("a length prefix over the maximum fails before any allocation", () => {
    const d = new FrameDecoder(1000);
    expect(() => d.push(new Uint8Array([0, 0, 3, 233]))).toThrow(FrameError); // 1001
    expect(() => d.push(new Uint8Array([0]))).toThrow(FrameError); // poisoned
    expect(() => new FrameDecoder(1000).push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow("exceeds");
    expect(() => new FrameDecoder(1000).push(new Uint8Array([0, 0, 0, 0]))).toThrow("zero-length");
  });

  test("an HTTP request is a bogus length", () => {
    const d = new FrameDecoder(16 * 1024 * 1024);
    expect(() => d.push(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).toThrow("exceeds");
  });

  test("an undecodable or over-long body is a FrameError", () => {
    const truncated = new Uint8Array([0, 0, 0, 2, 0xdd, 0xff]); // array32 header cut short
    expect(() => new FrameDecoder(MAX).push(truncated)).toThrow(FrameError);
    const trailing = new Uint8Array([0, 0, 0, 2, 0x01, 0x02]); // two values in one frame
    expect(() => new FrameDecoder(MAX).push(trailing)).toThrow(FrameError);
  });

  test("a limit raised by the frame handler applies to the next frame of the same chunk", () => {
    const d = new FrameDecoder(100);
    const stream = concat([encodeFrame("hello", MAX), encodeFrame(new Uint8Array(5000), MAX)]);
    const seen: unknown[] = [];
    d.push(stream, (v) => {
      seen.push(v);
      d.bytesMax = MAX;
    });
    expect(seen.length).toBe(2);
    expect(() => new FrameDecoder(100).push(stream)).toThrow("exceeds");
  });

  test("encodeFrame refuses a frame over the maximum", () => {
    expect(() => encodeFrame({ b: new Uint8Array(2000) }, 1000)).toThrow(FrameError);
  });
});

describe("wire validation", () => {
  const ok = { type: "heartbeat", from: 1, to: 2, term: 3, commit: 4, ctx: "" };

  test("valid messages pass, extra fields are stripped", () => {
    expect(parseMessage({ ...ok, junk: 1 })).toEqual(ok as never);
  });

  test.each([
    ["unknown type", { ...ok, type: "boom" }],
    ["missing field", { type: "heartbeat", from: 1, to: 2, term: 3, ctx: "" }],
    ["wrong type", { ...ok, commit: "4" }],
    ["fraction", { ...ok, term: 1.5 }],
    ["not an object", [1, 2]],
    ["entries not an array", { type: "append", from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: {} }],
    ["entry without data", { type: "append", from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ kind: "normal", index: 1, term: 1 }] }],
    ["bad member role", { type: "snapshot", from: 1, to: 2, term: 1, snapshot: { index: 1, term: 1, conf: { members: [{ id: 1, role: "boss", raftAddr: "", httpAddr: "" }] } } }],
  ])("%s is refused", (_name, value) => {
    expect(() => parseMessage(value)).toThrow(FrameError);
  });

  test("frames: unknown kind and bad hello are refused", () => {
    expect(() => parseFrame({ t: "zz" })).toThrow(FrameError);
    expect(() => parseFrame({ t: "hello", v: 1, cluster: 5, from: 1, to: 2, kind: "raft" })).toThrow(FrameError);
    expect(() => parseFrame(null)).toThrow(FrameError);
    expect(parseFrame({ t: "hello", v: 1, cluster: null, from: 1, to: 2, kind: "snap" })).toEqual({ t: "hello", v: 1, cluster: null, from: 1, to: 2, kind: "snap" });
  });
});
