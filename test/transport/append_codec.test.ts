import { describe, expect, test } from "bun:test";
import type { Entry, Message } from "../../src/raft/types.ts";
import { AppendEncoder } from "../../src/transport/append_codec.ts";
import { FrameDecoder, FrameError, encodeFrame } from "../../src/transport/frame.ts";
import { parseFrame } from "../../src/transport/wire.ts";

const MAX = 64 * 1024 * 1024;
type Append = Message & { type: "append" };

function decodeOne(frame: Uint8Array): unknown {
  const values = new FrameDecoder(MAX).push(frame);
  expect(values.length).toBe(1);
  return parseFrame(values[0]);
}

/** The integers where msgpack changes representation, and their neighbours. */
const ints = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
const sizes = [0, 1, 255, 256, 65_535, 65_536];

function entry(i: number): Entry {
  const index = ints[i % ints.length]!;
  const term = ints[(i * 7) % ints.length]!;
  if (i % 9 === 4) return { kind: "noop", index, term };
  if (i % 9 === 8) return { kind: "conf", index, term, change: { type: "add_learner", id: 4, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2", incarnation: "é" } };
  const data = new Uint8Array(sizes[i % sizes.length]!);
  for (let j = 0; j < data.length; j++) data[j] = (i + j) & 0xff;
  return { kind: "normal", index, term, data };
}

function append(to: number, entries: Entry[], n = 0): Append {
  return { type: "append", from: ints[n % ints.length]!, to, term: ints[(n + 3) % ints.length]!, prevIndex: ints[(n + 5) % ints.length]!, prevTerm: ints[(n + 1) % ints.length]!, entries, commit: ints[(n + 9) % ints.length]! };
}

const golden_digest = "64a886ec622559d80245cba4cebd2f168389b49e8c269e509d034b68730b3dcb";

describe("AppendEncoder", () => {
  test("its frames parse exactly like msgpackr's, at every size boundary", () => {
    const enc = new AppendEncoder();
    for (const count of [0, 1, 15, 16, 17, 40]) {
      for (let n = 0; n < ints.length; n++) {
        const entries = Array.from({ length: count }, (_, i) => entry(i + n));
        const m = append(2, entries, n);
        const mine = decodeOne(enc.encode(m, MAX));
        const reference = decodeOne(encodeFrame({ t: "m", m }, MAX));
        expect(mine).toEqual(reference);
        expect(mine).toEqual({ t: "m", m });
      }
    }
  });

  test("encodeParts: the head and the section's parts join to encode's bytes; large data parts are the entries' own bytes", () => {
    const enc = new AppendEncoder();
    const data = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, j) => (j * 13 + seed) & 0xff);
    const entries: Entry[] = [1023, 1024, 0, 5000, 1, 70_000, 1025].map((n, i) =>
      i === 2 ? { kind: "noop", index: 10 + i, term: 3 } : { kind: "normal", index: 10 + i, term: 3, data: data(n, i) },
    );
    for (const list of [entries, entries.slice(0, 1), entries.slice(1, 2), entries.slice(2, 3), []]) {
      const m = append(2, list, 4);
      const { head, section } = enc.encodeParts(m, MAX);
      const joined = Buffer.concat([head, ...section.parts]);
      expect(joined.length).toBe(head.length + section.length);
      expect(joined.equals(Buffer.from(new AppendEncoder().encode(m, MAX)))).toBe(true);
      expect(decodeOne(joined)).toEqual({ t: "m", m });
      for (const e of list) {
        if (e.kind !== "normal") continue;
        expect(section.parts.some((part) => part === e.data)).toBe(e.data.length >= 1024);
      }
    }
  });

  test("followers given the same Entry objects share one entries section; others get their own", () => {
    const enc = new AppendEncoder();
    const entries = [entry(1), entry(2), entry(3)];
    const a = decodeOne(enc.encode(append(2, entries.slice()), MAX));
    const b = decodeOne(enc.encode(append(3, entries.slice()), MAX));
    expect(enc.built).toBe(1);
    expect(enc.shared).toBe(1);
    expect(a).toEqual({ t: "m", m: append(2, entries) });
    expect(b).toEqual({ t: "m", m: append(3, entries) });
    // Same length and same ends, a different object in the middle (equal index, other data): not shared.
    const other: Entry = { kind: "normal", index: entries[1]!.index, term: entries[1]!.term, data: new Uint8Array([9, 9, 9]) };
    const mixed = [entries[0]!, other, entries[2]!];
    expect(decodeOne(enc.encode(append(2, mixed), MAX))).toEqual({ t: "m", m: append(2, mixed) });
    expect(enc.built).toBe(2);
    // A caller reusing (mutating) its array does not change what the encoder remembers.
    const reused = [entries[0]!];
    enc.encode(append(2, reused), MAX);
    reused[0] = other;
    expect(decodeOne(enc.encode(append(3, reused), MAX))).toEqual({ t: "m", m: append(3, [other]) });
  });

  test("its frames are byte for byte what the encoder wrote before (a digest of every boundary case)", () => {
    // The digest was taken with AppendEncoder as of 2f12653 (before the constant openings were written in one
    // go): the wire format of v1 peers, which a follower's decodeAppendFrame fast path reads.
    const enc = new AppendEncoder();
    const hash = new Bun.CryptoHasher("sha256");
    for (const count of [0, 1, 15, 16, 17, 40]) {
      for (let n = 0; n < ints.length; n++) hash.update(enc.encode(append(2 + (n % 2), Array.from({ length: count }, (_, i) => entry(i + n)), n), MAX));
    }
    expect(hash.digest("hex")).toBe(golden_digest);
  });

  test("a frame over the limit is refused with a FrameError", () => {
    const enc = new AppendEncoder();
    const m = append(2, [{ kind: "normal", index: 1, term: 1, data: new Uint8Array(2000) }]);
    expect(() => enc.encode(m, 1000)).toThrow(FrameError);
  });
});
