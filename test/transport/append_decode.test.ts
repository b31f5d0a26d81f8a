import { describe, expect, test } from "bun:test";
import type { Entry, Message } from "../../src/raft/types.ts";
import { AppendEncoder } from "../../src/transport/append_codec.ts";
import { decodeAppendFrame } from "../../src/transport/append_decode.ts";
import { FrameError, decodeFrameBody, encodeFrame, frame_header_bytes } from "../../src/transport/frame.ts";
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
