import { describe, expect, test } from "bun:test";
import type { MethodDefinition } from "@grpc/grpc-js";
import type { Msg } from "../../../src/node/grpc/codec.ts";
import { etcdService } from "../../../src/node/grpc/protos.ts";
import { decodeRangeRequest, encodeRangeResponse, fastRangeCodec } from "../../../src/node/grpc/range_codec.ts";
import { frame } from "../../../src/node/grpc/wire.ts";

// range_codec.ts must agree with proto-loader's reflection codec exactly: the same decoded object for every
// RangeRequest, the same bytes for every RangeResponse; what it does not handle it must leave to proto-loader.
const range = etcdService("KV").Range as MethodDefinition<Msg, Msg>;
const fast = fastRangeCodec(range);
const b = (text: string) => Buffer.from(text, "utf8");

/** A seeded generator (LCG), so a failing round can be replayed. */
function rng(seed: number) {
  return () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

const requests: Msg[] = [
  {},
  { key: b("k") },
  { key: b("bench-key-00000042") },
  { key: b("a"), range_end: b("b"), limit: "10", revision: "5", sort_order: "DESCEND", sort_target: "MOD", serializable: true, keys_only: true, count_only: true },
  { key: b("a"), range_end: Buffer.from([0]), min_mod_revision: "1", max_mod_revision: "2", min_create_revision: "3", max_create_revision: String(2 ** 49 - 1) },
  { key: b("k"), sort_order: "NONE", sort_target: "KEY", serializable: false, limit: "0" }, // defaults written
  { key: Buffer.alloc(300, 0x61) }, // a 2-byte length
  { key: b("ключ"), range_end: b("ключа") },
];

/** Requests the fast decoder leaves to proto-loader (so they must still decode exactly as before). */
const slow: Buffer[] = [
  range.requestSerialize({ key: b("k"), revision: String(2 ** 50) }), // an int64 beyond 2^49
  range.requestSerialize({ key: b("k"), limit: "-1" }), // a negative int64: 10 bytes
  Buffer.from([0x0a, 0x01, 0x6b, 0x28, 0x07]), // sort_order 7: no name
  Buffer.from([0x0a, 0x01, 0x6b, 0x30, 0x09]), // sort_target 9: no name
  Buffer.concat([range.requestSerialize({ key: b("k") }), Buffer.from([0x70, 0x01])]), // unknown varint field 14
  Buffer.concat([range.requestSerialize({ key: b("k") }), Buffer.from([0x82, 0x01, 0x01, 0x61])]), // unknown field 16 (2-byte tag)
  Buffer.from([0x0d, 0x01, 0x02, 0x03, 0x04]), // field 1 as fixed32
  Buffer.from([0x0a, 0x05, 0x61]), // truncated key
  Buffer.from([0x18]), // truncated varint
];

function expectSameDecode(bytes: Buffer): void {
  let expected: unknown;
  let expectedError: unknown = null;
  try {
    expected = range.requestDeserialize(bytes);
  } catch (error) {
    expectedError = error;
  }
  if (expectedError !== null) expect(() => fast.requestDeserialize(bytes)).toThrow();
  else expect(fast.requestDeserialize(bytes)).toEqual(expected as Msg);
}

describe("range_codec: RangeRequest decode", () => {
  test("agrees with proto-loader on every common request, defaults filled", () => {
    for (const m of requests) {
      const bytes = range.requestSerialize(m);
      const mine = decodeRangeRequest(bytes);
      expect(mine).not.toBeNull();
      expect(mine).toEqual(range.requestDeserialize(bytes));
    }
  });

  test("a field repeated: the last one wins, as in proto-loader", () => {
    const bytes = Buffer.concat([range.requestSerialize({ key: b("a"), limit: "5", serializable: true }), range.requestSerialize({ key: b("bb"), limit: "6", serializable: false })]);
    expect(decodeRangeRequest(bytes)).toEqual(range.requestDeserialize(bytes));
    expect(decodeRangeRequest(bytes)!.key).toEqual(b("bb"));
  });

  test("unknown fields and enum values, big or negative int64s and broken messages go to proto-loader, with its result", () => {
    for (const bytes of slow) {
      expect(decodeRangeRequest(bytes)).toBeNull();
      expectSameDecode(bytes);
    }
  });

  test("seeded random requests and random bytes: the same result as proto-loader (or its error)", () => {
    const random = rng(14);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    for (let round = 0; round < 2_000; round++) {
      const m: Msg = {};
      if (random() < 0.9) m.key = Buffer.alloc(Math.floor(random() * 200), Math.floor(random() * 256));
      if (random() < 0.3) m.range_end = Buffer.alloc(Math.floor(random() * 5), 0);
      for (const name of ["limit", "revision", "min_mod_revision", "max_mod_revision", "min_create_revision", "max_create_revision"]) {
        if (random() < 0.3) m[name] = String(Math.floor(random() * 2 ** Math.floor(random() * 52)));
      }
      for (const name of ["serializable", "keys_only", "count_only"]) if (random() < 0.3) m[name] = random() < 0.5;
      if (random() < 0.3) m.sort_order = pick(["NONE", "ASCEND", "DESCEND"]);
      if (random() < 0.3) m.sort_target = pick(["KEY", "VERSION", "CREATE", "MOD", "VALUE"]);
      const bytes = range.requestSerialize(m);
      expectSameDecode(bytes);
      // The same bytes damaged: truncated and one byte changed.
      const bad = Buffer.from(bytes.subarray(0, Math.floor(random() * (bytes.length + 1))));
      if (bad.length > 0) bad[Math.floor(random() * bad.length)] = Math.floor(random() * 256);
      expectSameDecode(bad);
    }
  });
});

const header = { cluster_id: "14841639068965178418", member_id: "10276657743932975437", revision: 42, raft_term: 3 };
const kv = (key: string, value: Buffer, version = 1, lease: number | string = 0) => ({ key: b(key), value, create_revision: 2, mod_revision: 40, version, lease });
const responses: Msg[] = [
  { header, kvs: [], more: false, count: 0 },
  { header, kvs: [kv("bench-key-00000042", Buffer.alloc(100, 0x76))], more: false, count: 1 },
  { header, kvs: [kv("a", b("1")), kv("b", Buffer.alloc(300, 2), 7, "7587869023488455687"), kv("c", Buffer.alloc(0))], more: true, count: 3 },
  { header, kvs: Array.from({ length: 50 }, (_, i) => kv(`k${i}`, Buffer.alloc(i * 10, i))), more: false, count: 5000 },
  { header: { cluster_id: "0", member_id: "0", revision: 0, raft_term: 0 }, kvs: [], more: false, count: 0 },
  { header: { cluster_id: "18446744073709551615", member_id: "1", revision: 2 ** 53 - 1, raft_term: 2 ** 31 }, kvs: [], count: 2 ** 40 },
  { header, kvs: [{ key: b("k") }], more: false, count: 1 }, // keys_only-like: fields absent
  { header },
  { kvs: [kv("a", b("x"))] },
  {},
];

describe("range_codec: RangeResponse encode", () => {
  test("writes proto-loader's bytes exactly", () => {
    for (const m of responses) {
      const mine = encodeRangeResponse(m);
      expect(mine).not.toBeNull();
      expect(Buffer.from(mine!).toString("hex")).toBe(range.responseSerialize(m).toString("hex"));
    }
  });

  test("framed: the gRPC prefix and the same bytes in one buffer, for the fast path and the fallback", () => {
    for (const m of [...responses, { header: { ...header, revision: 1.5 }, kvs: [] }]) {
      expect(fast.responseFrame(m).toString("hex")).toBe(frame(range.responseSerialize(m)).toString("hex"));
    }
  });

  test("seeded random responses: proto-loader's bytes", () => {
    const random = rng(41);
    for (let round = 0; round < 500; round++) {
      const kvs = Array.from({ length: Math.floor(random() * 6) }, (_, i) =>
        kv(`key-${i}-${round}`, Buffer.alloc(Math.floor(random() * 400), i), Math.floor(random() * 1000), random() < 0.2 ? String(Math.floor(random() * 2 ** 62)) : 0),
      );
      const m: Msg = { header: { ...header, revision: Math.floor(random() * 2 ** 40) }, kvs, more: random() < 0.5, count: kvs.length + Math.floor(random() * 10) };
      expect(Buffer.from(encodeRangeResponse(m)!).toString("hex")).toBe(range.responseSerialize(m).toString("hex"));
    }
  });

  test("what it does not handle goes to proto-loader", () => {
    for (const odd of [{ header: { ...header, revision: 1.5 } }, { header, kvs: [{ key: "k" }] }, { header, kvs: "x" }, { header, more: "yes" }, { header, count: 1.5 }] as Msg[]) {
      expect(encodeRangeResponse(odd)).toBeNull();
      let expected: string | null = null;
      try {
        expected = range.responseSerialize(odd).toString("hex");
      } catch {
        expected = null;
      }
      if (expected === null) expect(() => fast.responseSerialize(odd)).toThrow();
      else expect(fast.responseSerialize(odd).toString("hex")).toBe(expected);
    }
  });
});
