import { expect, test } from "bun:test";
import { putFrame, rangeFrame, readAnswer } from "../../src/cli/bench/grpc_wire.ts";
import { etcdService } from "../../src/node/grpc/protos.ts";

// The gRPC bench's hand-made protobuf (src/cli/bench/grpc_wire.ts) against etcd's own protos as the endpoint
// decodes and encodes them (proto-loader): the requests mean what the bench says, and the answers it checks
// (header revision, kvs found, a key's version) are read from real encodings.

const kv = etcdService("KV") as unknown as Record<string, { requestDeserialize(b: Buffer): any; responseSerialize(v: unknown): Buffer }>;
const unframe = (frame: Uint8Array) => {
  expect(frame[0]).toBe(0);
  expect(new DataView(frame.buffer, frame.byteOffset).getUint32(1)).toBe(frame.length - 5);
  return Buffer.from(frame.subarray(5));
};
const framed = (message: Buffer) => {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
};

test("putFrame and rangeFrame decode as etcd's PutRequest and a linearizable RangeRequest", () => {
  const put = kv.Put!.requestDeserialize(unframe(putFrame("bench-key-00000042", new Uint8Array(300).fill(0x76))));
  expect(put.key.toString()).toBe("bench-key-00000042");
  expect(put.value.length).toBe(300);
  expect(put.value.every((b: number) => b === 0x76)).toBe(true);
  const range = kv.Range!.requestDeserialize(unframe(rangeFrame("bench-key-00000042")));
  expect(range.key.toString()).toBe("bench-key-00000042");
  expect(range.serializable).toBe(false);
  expect(range.range_end.length).toBe(0);
});

test("readAnswer reads the header revision, the kvs and the first kv's version from etcd's encodings", () => {
  const header = { cluster_id: "12345678901234567890", member_id: "42", revision: 987_654_321, raft_term: 7 };
  expect(readAnswer(framed(kv.Put!.responseSerialize({ header })))).toEqual({ revision: 987_654_321, kvs: 0, version: 0 });
  const kvs = [
    { key: Buffer.from("a"), create_revision: 3, mod_revision: 900, version: 300, value: Buffer.alloc(100, 1), lease: 0 },
    { key: Buffer.from("b"), create_revision: 4, mod_revision: 901, version: 2, value: Buffer.alloc(10, 1), lease: 0 },
  ];
  expect(readAnswer(framed(kv.Range!.responseSerialize({ header, kvs, count: 2, more: false })))).toEqual({ revision: 987_654_321, kvs: 2, version: 300 });
  expect(readAnswer(framed(kv.Range!.responseSerialize({ header, kvs: [], count: 0 })))).toEqual({ revision: 987_654_321, kvs: 0, version: 0 });
  expect(() => readAnswer(framed(kv.Put!.responseSerialize({ header })).subarray(0, 8))).toThrow();
});
