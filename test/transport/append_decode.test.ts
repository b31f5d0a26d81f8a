import { describe, expect, test } from "bun:test";
import type { Entry, Message } from "../../src/raft/types.ts";
import { AppendEncoder } from "../../src/transport/append_codec.ts";
import { decodeAppendFrame, decodeAppendPieces } from "../../src/transport/append_decode.ts";
import { FrameDecoder, FrameError, decodeFrameBody, encodeFrame, frame_header_bytes } from "../../src/transport/frame.ts";
import { parseFrame } from "../../src/transport/wire.ts";

const MAX = 64 * 1024 * 1024;
type Append = Message & { type: "append" };

/** The integers where msgpack changes representation, and their neighbours. */
const ints = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
const sizes = [0, 1, 255, 256, 65_535, 65_536];

function entry(i: number, conf: boolean): Entry {
  const index = ints[i % ints.length]!;
  const term = ints[(i * 7) % ints.length]!;
  if (i % 9 === 4) return { kind: "noop", index, term };
  if (conf && i % 9 === 8) return { kind: "conf", index, term, change: { type: "add_learner", id: 4, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" } };
  const data = new Uint8Array(sizes[i % sizes.length]!);
  for (let j = 0; j < data.length; j++) data[j] = (i + j) & 0xff;
  return { kind: "normal", index, term, data };
}

function append(entries: Entry[], n = 0): Append {
  return { type: "append", from: ints[n % ints.length]!, to: 2, term: ints[(n + 3) % ints.length]!, prevIndex: ints[(n + 5) % ints.length]!, prevTerm: ints[(n + 1) % ints.length]!, entries, commit: ints[(n + 9) % ints.length]! };
}

const bodyOf = (frame: Uint8Array): Uint8Array => frame.subarray(frame_header_bytes);

/** generic: what the msgpackr path makes of a body (a Frame, or the FrameError it throws). */
function generic(body: Uint8Array): unknown {
  try {
    return parseFrame(decodeFrameBody(body));
  } catch (error) {
    if (error instanceof FrameError) return "refused";
    throw error;
  }
}

describe("decodeAppendFrame", () => {
  test("reads AppendEncoder's frames to the very Frame the generic path makes, at every size boundary", () => {
    const enc = new AppendEncoder();
    let taken = 0;
    for (const count of [0, 1, 15, 16, 17, 40]) {
      for (let n = 0; n < ints.length; n++) {
        const m = append(Array.from({ length: count }, (_, i) => entry(i + n, false)), n);
        const body = bodyOf(enc.encode(m, MAX));
        const fast = decodeAppendFrame(body);
        expect(fast).not.toBeNull();
        expect(fast).toEqual(generic(body) as never);
        expect(fast).toEqual({ t: "m", m });
        taken++;
      }
    }
    expect(taken).toBe(66);
  });

  test("entry payloads are views of the frame body, not copies (the follower copies them once, into its WAL columns)", () => {
    const body = bodyOf(new AppendEncoder().encode(append([{ kind: "normal", index: 5, term: 1, data: Uint8Array.of(1, 2, 3) }]), MAX));
    const fast = decodeAppendFrame(body)!;
    const data = (fast.t === "m" && fast.m.type === "append" ? fast.m.entries[0]! : null) as Entry & { kind: "normal" };
    expect(data.data.buffer).toBe(body.buffer);
    expect(data.data.byteOffset).toBe(body.byteOffset + body.length - 3);
    expect([...data.data]).toEqual([1, 2, 3]);
  });

  test("leaves every other frame to the generic path: conf entries, msgpackr's own output, other messages", () => {
    const withConf = append([entry(0, true), entry(8, true)]);
    expect(decodeAppendFrame(bodyOf(new AppendEncoder().encode(withConf, MAX)))).toBeNull();
    // msgpackr writes the message's keys in the object's own order (entries before commit): not the layout.
    expect(decodeAppendFrame(bodyOf(encodeFrame({ t: "m", m: append([entry(1, false)]) }, MAX)))).toBeNull();
    expect(decodeAppendFrame(bodyOf(encodeFrame({ t: "m", m: { type: "heartbeat", from: 1, to: 2, term: 1, commit: 3, ctx: "" } }, MAX)))).toBeNull();
    expect(decodeAppendFrame(bodyOf(encodeFrame({ t: "hello", v: 1, cluster: null, from: 1, to: 2, kind: "raft" }, MAX)))).toBeNull();
  });

  test("never takes a damaged frame the generic path refuses, nor reads one differently", () => {
    const m = append([entry(1, false), entry(4, false), entry(2, false)], 3);
    const body = bodyOf(new AppendEncoder().encode(m, MAX)).slice();
    let takenDamaged = 0;
    const check = (b: Uint8Array) => {
      const fast = decodeAppendFrame(b);
      if (fast === null) return;
      const slow = generic(b);
      expect(slow).not.toBe("refused");
      expect(fast).toEqual(slow as never);
      takenDamaged++;
    };
    // Every truncation, one trailing byte, and every byte flipped to a few values.
    for (let len = 0; len < body.length; len++) expect(decodeAppendFrame(body.subarray(0, len))).toBeNull();
    const padded = new Uint8Array(body.length + 1);
    padded.set(body);
    expect(decodeAppendFrame(padded)).toBeNull();
    expect(generic(padded)).toBe("refused");
    for (let i = 0; i < Math.min(body.length, 400); i++) {
      for (const v of [0x00, 0x7f, 0xc4, 0xcb, 0xdc, 0xff, body[i]! ^ 1]) {
        const b = body.slice();
        b[i] = v;
        check(b);
      }
    }
    // Flips in data bytes or small ints still decode (to the same frame as msgpackr's): the check above ran.
    expect(takenDamaged).toBeGreaterThan(0);
  });

  test("a float64 that is not a safe integer is the generic path's to refuse", () => {
    // The commit (the only field above 2^32 here) written as a float64, then made non-integral.
    const b2 = bodyOf(new AppendEncoder().encode({ ...append([]), commit: 2 ** 40 }, MAX)).slice();
    const at = b2.indexOf(0xcb);
    expect(at).toBeGreaterThan(0);
    new DataView(b2.buffer).setFloat64(at + 1, 1.5);
    expect(decodeAppendFrame(b2)).toBeNull();
    expect(generic(b2)).toBe("refused");
  });
});

describe("decodeAppendPieces (an append that spanned socket reads)", () => {
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }
  /** split: the body as pieces of its own chunks (each a fresh buffer, as Bun's data callbacks are). */
  function split(body: Uint8Array, cuts: number[]): Uint8Array[] {
    const points = [...new Set(cuts.filter((c) => c > 0 && c < body.length))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let from = 0;
    for (const to of [...points, body.length]) {
      const chunk = new Uint8Array(to - from + 7); // a piece is a part of a larger chunk
      chunk.set(body.subarray(from, to), 3);
      out.push(chunk.subarray(3, 3 + to - from));
      from = to;
    }
    return out;
  }

  test("reads every split exactly as the whole body; data are views of the piece holding them, or copies", () => {
    const r = rng(5);
    const enc = new AppendEncoder();
    const held: { data: Uint8Array; copy: Buffer }[] = [];
    for (let round = 0; round < 300; round++) {
      const count = 1 + Math.floor(r() * 6);
      const m = append(Array.from({ length: count }, (_, i) => entry(round + i, false)), round);
      const body = bodyOf(enc.encode(m, MAX)).slice();
      const pieces = split(body, Array.from({ length: 1 + Math.floor(r() * 4) }, () => Math.floor(r() * body.length)));
      const got = decodeAppendPieces(pieces, body.length);
      expect(got).toEqual(decodeAppendFrame(body)!);
      expect(got).toEqual({ t: "m", m });
      for (const e of got!.t === "m" && got!.m.type === "append" ? got!.m.entries : []) {
        if (e.kind !== "normal" || e.data.length === 0) continue;
        const inPiece = pieces.some((p) => p.buffer === e.data.buffer);
        // Never a view of the scratch buffer: either a piece's chunk or a buffer of its own.
        if (!inPiece) expect(e.data.byteLength).toBe(e.data.buffer.byteLength);
        if (held.length < 400) held.push({ data: e.data, copy: Buffer.from(e.data) });
      }
    }
    // Later frames reuse the scratch buffer: what earlier ones handed out is unchanged.
    for (const { data, copy } of held) expect(Buffer.from(data).equals(copy)).toBe(true);
  });

  test("declines what decodeAppendFrame declines, and a frame whose pieces do not add up", () => {
    const body = bodyOf(encodeFrame({ t: "m", m: { type: "heartbeat", from: 1, to: 2, term: 1, commit: 3, ctx: "" } }, MAX));
    expect(decodeAppendPieces(split(body, [5]), body.length)).toBeNull();
    const ok = bodyOf(new AppendEncoder().encode(append([entry(1, false)]), MAX));
    expect(decodeAppendPieces(split(ok, [3]), ok.length + 1)).toBeNull();
  });

  test("FrameDecoder with decodeSpanning gives the same values for a stream cut at every offset", () => {
    const enc = new AppendEncoder();
    const frames = [enc.encode(append([entry(1, false), entry(5, false), entry(3, false)], 2), MAX), encodeFrame({ t: "m", m: { type: "heartbeat", from: 1, to: 2, term: 1, commit: 3, ctx: "" } }, MAX), enc.encode(append([entry(11, false)], 4), MAX)];
    const stream = Buffer.concat(frames);
    const decodeBody = (b: Uint8Array) => decodeAppendFrame(b) ?? parseFrame(decodeFrameBody(b));
    const want = new FrameDecoder(MAX, decodeBody).push(stream.slice());
    for (let cut = 1; cut < stream.length; cut += 97) {
      for (const step of [cut, 4093]) {
        const d = new FrameDecoder(MAX, decodeBody, (pieces, length) => decodeAppendPieces(pieces, length) ?? decodeBody(Buffer.concat(pieces)));
        const got: unknown[] = [];
        for (let at = 0; at < stream.length; at += step) got.push(...d.push(stream.slice(at, Math.min(stream.length, at + step))));
        expect(got).toEqual(want);
        expect(d.buffered).toBe(0);
      }
    }
  });
});
