import { describe, expect, test } from "bun:test";
import type { MethodDefinition } from "@grpc/grpc-js";
import type { Msg } from "../../../src/node/grpc/codec.ts";
import { etcdService } from "../../../src/node/grpc/protos.ts";
import { decodePutRequest, encodePutResponse, fastPutCodec } from "../../../src/node/grpc/put_codec.ts";
import { frame } from "../../../src/node/grpc/wire.ts";

// put_codec.ts must agree with proto-loader's reflection codec exactly: the same decoded object for every
// PutRequest, the same bytes for every PutResponse; what it does not handle it must leave to proto-loader.
const put = etcdService("KV").Put as MethodDefinition<Msg, Msg>;
const fast = fastPutCodec(put);
const b = (text: string) => Buffer.from(text, "utf8");

/** The PutRequest encodings protobufjs writes for these messages (then compared field by field). */
const requests: Msg[] = [
  {},
  { key: b("k") },
  { key: b("key"), value: b("value") },
  { key: b("k"), value: Buffer.alloc(300, 7) }, // a 2-byte length
  { key: b("k"), value: Buffer.alloc(70_000, 1) }, // a 3-byte length
  { key: b("k"), value: b(""), lease: "0", prev_kv: false, ignore_value: false, ignore_lease: false }, // defaults written
  { key: b("k"), lease: "123456789", prev_kv: true, ignore_value: true, ignore_lease: true },
  { key: b("k"), lease: String(2 ** 49 - 1) },
  { key: b("ключ"), value: b("значение") },
];

/** Requests the fast decoder leaves to proto-loader (so they must still decode exactly as before). */
const slow: Buffer[] = [
  put.requestSerialize({ key: b("k"), lease: "7587869023488455687" }), // a lease id beyond 2^49
  put.requestSerialize({ key: b("k"), lease: "-1" }), // a negative int64: 10 bytes
  Buffer.concat([put.requestSerialize({ key: b("k") }), Buffer.from([0x38, 0x05])]), // unknown varint field 7
  Buffer.concat([put.requestSerialize({ key: b("k") }), Buffer.from([0x92, 0x01, 0x01, 0x61])]), // unknown field 18 (2-byte tag)
  Buffer.concat([Buffer.from([0x3a, 0x02, 0x61, 0x62]), put.requestSerialize({ key: b("k"), value: b("v") })]), // unknown bytes field first
  Buffer.from([0x0a, 0x05, 0x61]), // truncated key
];

describe("put_codec: PutRequest decode", () => {
  test("agrees with proto-loader on every common request, defaults filled", () => {
    for (const m of requests) {
      const bytes = put.requestSerialize(m);
      const mine = decodePutRequest(bytes);
      expect(mine).not.toBeNull();
      expect(mine).toEqual(put.requestDeserialize(bytes));
    }
  });

  test("a field repeated: the last one wins, as in proto-loader", () => {
    const bytes = Buffer.concat([put.requestSerialize({ key: b("a"), lease: "5", prev_kv: true }), put.requestSerialize({ key: b("bb"), lease: "6", prev_kv: false })]);
    expect(decodePutRequest(bytes)).toEqual(put.requestDeserialize(bytes));
    expect(decodePutRequest(bytes)!.key).toEqual(b("bb"));
  });

  test("unknown fields, big or negative int64s and broken messages go to proto-loader, with its result", () => {
    for (const bytes of slow) {
      expect(decodePutRequest(bytes)).toBeNull();
      let expected: unknown;
      let expectedError: unknown = null;
      try {
        expected = put.requestDeserialize(bytes);
      } catch (error) {
        expectedError = error;
      }
      if (expectedError !== null) expect(() => fast.requestDeserialize(bytes)).toThrow();
      else expect(fast.requestDeserialize(bytes)).toEqual(expected as Msg);
    }
  });
});

const header = { cluster_id: "14841639068965178418", member_id: "10276657743932975437", revision: 42, raft_term: 3 };
const responses: Msg[] = [
  { header },
  { header: { cluster_id: "0", member_id: "0", revision: 0, raft_term: 0 } }, // zeros are written too
  { header: { cluster_id: "18446744073709551615", member_id: "1", revision: 2 ** 53 - 1, raft_term: 2 ** 31 } },
  { header: { ...header, revision: -1 } },
  { header, prev_kv: { key: b("k"), value: b("old"), create_revision: 2, mod_revision: 9, version: 4, lease: 0 } },
  { header, prev_kv: { key: b("k"), value: Buffer.alloc(200, 3), create_revision: 2, mod_revision: 300, version: 1, lease: "7587869023488455687" } },
  { header, prev_kv: { key: b("k"), value: Buffer.alloc(0), create_revision: 2, mod_revision: 3, version: 1, lease: 0 } },
  { header, prev_kv: {} },
  { header, prev_kv: null },
  { header: { revision: 5 } },
  {},
];

describe("put_codec: PutResponse encode", () => {
  test("writes proto-loader's bytes exactly", () => {
    for (const m of responses) {
      const mine = encodePutResponse(m);
      expect(mine).not.toBeNull();
      expect(Buffer.from(mine!).toString("hex")).toBe(put.responseSerialize(m).toString("hex"));
    }
  });

  test("framed: the gRPC prefix and the same bytes in one buffer, for the fast path and the fallback", () => {
    for (const m of [...responses, { header: { ...header, revision: 1.5 } }]) {
      expect(fast.responseFrame(m).toString("hex")).toBe(frame(put.responseSerialize(m)).toString("hex"));
    }
  });

  test("what it does not handle goes to proto-loader", () => {
    const odd: Msg = { header: { ...header, revision: 1.5 } };
    expect(encodePutResponse(odd)).toBeNull();
    expect(fast.responseSerialize(odd).toString("hex")).toBe(put.responseSerialize(odd).toString("hex"));
    const stringKey: Msg = { header, prev_kv: { key: "k" } };
    expect(encodePutResponse(stringKey)).toBeNull();
  });
});
