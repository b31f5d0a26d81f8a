// Record codec: every record type round-trips; damage is detected, never decoded.
import { describe, expect, test } from "bun:test";
import { encodeEntries, encodeHardState, encodeSnapshotRecord, readRecord, type DecodedRecord } from "../../src/storage/record.ts";
import type { Entry } from "../../src/raft/types.ts";

function readAll(buf: Uint8Array): DecodedRecord[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: DecodedRecord[] = [];
  let offset = 0;
  while (offset < buf.byteLength) {
    const result = readRecord(buf, view, offset);
    if (!result.ok) throw new Error(result.reason);
    out.push(result.record);
    offset = result.next;
  }
  return out;
}

const entries: Entry[] = [
  { kind: "normal", index: 7, term: 3, data: new Uint8Array([1, 2, 3, 255]) },
  { kind: "normal", index: 8, term: 3, data: new Uint8Array(0) },
  { kind: "noop", index: 9, term: 4 },
  { kind: "conf", index: 10, term: 4, change: { type: "add_learner", id: 5, raftAddr: "127.0.0.1:12005", httpAddr: "127.0.0.1:8005" } },
  { kind: "normal", index: 2 ** 40, term: 2 ** 33, data: new Uint8Array([9]) },
];

describe("record codec", () => {
  test("entries of every kind and a hard state round-trip", () => {
    const hs = { term: 4, vote: 2, commit: 9 };
    const decoded = readAll(encodeEntries(entries, hs));
    expect(decoded.length).toBe(entries.length + 1);
    for (let i = 0; i < entries.length; i++) {
      const record = decoded[i]!;
      expect(record.type).toBe("entry");
      if (record.type !== "entry") continue;
      const got = record.entry;
      const want = entries[i]!;
      expect(got.kind).toBe(want.kind);
      expect(got.index).toBe(want.index);
      expect(got.term).toBe(want.term);
      if (got.kind === "normal" && want.kind === "normal") expect(Array.from(got.data)).toEqual(Array.from(want.data));
      if (got.kind === "conf" && want.kind === "conf") expect(got.change).toEqual(want.change);
    }
    expect(decoded[entries.length]).toEqual({ type: "hard_state", hardState: hs });
    expect(readAll(encodeHardState({ term: 0, vote: 0, commit: 0 }))).toEqual([{ type: "hard_state", hardState: { term: 0, vote: 0, commit: 0 } }]);
  });

  test("snapshot records round-trip with their install/keep flags", () => {
    const meta = {
      index: 100,
      term: 5,
      conf: { members: [{ id: 1, role: "voter" as const, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" }] },
    };
    for (const install of [true, false]) {
      for (const keep of [true, false]) {
        expect(readAll(encodeSnapshotRecord({ meta, install, keep }))).toEqual([{ type: "snapshot", snapshot: { meta, install, keep } }]);
      }
    }
  });

  test("every single-bit flip in a record is detected", () => {
    const buf = encodeEntries([entries[0]!, entries[3]!], { term: 1, vote: 1, commit: 1 });
    let detected = 0;
    let flips = 0;
    for (let byte = 0; byte < buf.byteLength; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = buf.slice();
        copy[byte]! ^= 1 << bit;
        flips++;
        try {
          readAll(copy);
        } catch {
          detected++;
        }
      }
    }
    expect(detected).toBe(flips);
  });

  test("a record cut short is reported as partial, not decoded", () => {
    const buf = encodeEntries([entries[0]!], null);
    const view = new DataView(buf.buffer);
    for (let cut = 0; cut < buf.byteLength; cut++) {
      const result = readRecord(buf.subarray(0, cut), new DataView(buf.buffer, 0, cut), 0);
      expect(result.ok).toBe(false);
    }
    expect(readRecord(buf, view, 0).ok).toBe(true);
  });
});
