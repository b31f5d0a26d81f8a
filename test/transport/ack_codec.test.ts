import { describe, expect, test } from "bun:test";
import type { Message } from "../../src/raft/types.ts";
import { decodeAck, encodeAck } from "../../src/transport/ack_codec.ts";
import { FrameError, decodeFrameBody, encodeFrame, frame_header_bytes } from "../../src/transport/frame.ts";
import { parseFrame } from "../../src/transport/wire.ts";

const MAX = 64 * 1024 * 1024;
const ints = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
const ctxs = ["", "r1", "qklzl-read-" + "9".repeat(20), "x".repeat(31), "y".repeat(32), "z".repeat(255)];

function messages(): Message[] {
  const out: Message[] = [];
  for (let n = 0; n < ints.length; n++) {
    const [a, b, c, d] = [ints[n]!, ints[(n + 3) % ints.length]!, ints[(n + 5) % ints.length]!, ints[(n + 7) % ints.length]!];
    out.push({ type: "append_resp", from: a, to: b, term: c, index: d, reject: n % 2 === 0, hintIndex: b, hintTerm: a });
    for (const ctx of ctxs) {
      out.push({ type: "heartbeat", from: b, to: a, term: d, commit: c, ctx });
      out.push({ type: "heartbeat_resp", from: c, to: d, term: a, ctx });
    }
  }
  return out;
}

const body = (frame: Uint8Array) => frame.subarray(frame_header_bytes);
function generic(b: Uint8Array): unknown {
  try {
    return parseFrame(decodeFrameBody(b));
  } catch (error) {
    if (error instanceof FrameError) return "refused";
    throw error;
  }
}

describe("ack codec", () => {
  test("acks and heartbeats round-trip, and a generic (older) peer reads the same Frame", () => {
    const all = messages();
    for (const m of all) {
      const frame = encodeAck(m, MAX)!;
      expect(frame).not.toBeNull();
      expect(decodeAck(body(frame))).toEqual({ t: "m", m });
      expect(generic(body(frame))).toEqual({ t: "m", m } as never);
    }
    expect(all.length).toBe(143);
  });

  test("other messages and non-ASCII ctx are left to msgpackr; msgpackr's own frames to the generic decoder", () => {
    expect(encodeAck({ type: "heartbeat_resp", from: 1, to: 2, term: 3, ctx: "é" }, MAX)).toBeNull();
    expect(encodeAck({ type: "vote", from: 1, to: 2, term: 3, lastIndex: 4, lastTerm: 5, transfer: false }, MAX)).toBeNull();
    expect(encodeAck({ type: "heartbeat_resp", from: 1, to: 2, term: 3, ctx: "c".repeat(256) }, MAX)).toBeNull();
    // msgpackr writes the object's own key order; whatever decodeAck takes of it must read the same.
    for (const m of messages()) {
      const b = body(encodeFrame({ t: "m", m }, MAX));
      const fast = decodeAck(b);
      if (fast !== null) expect(fast).toEqual(generic(b) as never);
    }
    expect(decodeAck(body(encodeFrame({ t: "m", m: { type: "vote_resp", from: 1, to: 2, term: 3, reject: false } }, MAX)))).toBeNull();
  });

  test("never takes a damaged frame the generic path refuses, nor reads one differently", () => {
    let taken = 0;
    for (const m of [messages()[0]!, messages()[3]!, messages()[4]!]) {
      const b = body(encodeAck(m, MAX)!).slice();
      for (let len = 0; len < b.length; len++) expect(decodeAck(b.subarray(0, len))).toBeNull();
      const padded = new Uint8Array(b.length + 1);
      padded.set(b);
      expect(decodeAck(padded)).toBeNull();
      for (let i = 0; i < b.length; i++) {
        for (const v of [0x00, 0x7f, 0x80, 0xa1, 0xc2, 0xc3, 0xcb, 0xd9, 0xff, b[i]! ^ 1]) {
          const d = b.slice();
          d[i] = v;
          const fast = decodeAck(d);
          if (fast === null) continue;
          const slow = generic(d);
          expect(slow).not.toBe("refused");
          expect(fast).toEqual(slow as never);
          taken++;
        }
      }
    }
    expect(taken).toBeGreaterThan(0);
  });
});
