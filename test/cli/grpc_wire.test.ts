import { expect, test } from "bun:test";
import { checkAnswer, putFrame, rangeFrame, readAnswer } from "../../src/cli/bench/grpc_wire.ts";
import { etcdService } from "../../src/node/grpc/protos.ts";

// The gRPC bench's hand-made protobuf (src/cli/bench/grpc_wire.ts) against etcd's own protos as the endpoint
// decodes and encodes them (proto-loader): the requests mean what the bench says, and the answers it checks
// (header revision, kvs found, a key's version) are read from real encodings.

const kv = etcdService("KV") as unknown as Record<string, { requestDeserialize(b: Buffer): any; responseSerialize(v: unknown): Buffer }>;
const kv_ = kv;
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

test("checkAnswer: a PutResponse's revision; a RangeResponse only with exactly the one kv asked for", () => {
  const header = { cluster_id: "12345678901234567890", member_id: "42", revision: 987_654_321, raft_term: 7 };
  const key = Buffer.from("bench-key-00000042");
  const kv = (k: string, version = 3) => ({ key: Buffer.from(k), create_revision: 3, mod_revision: 900, version, value: Buffer.alloc(100, 1), lease: "7587869023488455687" });
  expect(checkAnswer(framed(kv_.Put!.responseSerialize({ header })), null)).toBe(987_654_321);
  expect(checkAnswer(framed(kv_.Put!.responseSerialize({ header, prev_kv: kv("x") })), null)).toBe(987_654_321);
  expect(checkAnswer(framed(kv_.Range!.responseSerialize({ header, kvs: [kv("bench-key-00000042")], count: 1, more: false })), key)).toBe(987_654_321);
  expect(checkAnswer(framed(kv_.Put!.responseSerialize({ header: { ...header, revision: 2 ** 40 } })), null)).toBe(2 ** 40);
  // Wrong answers: each says why.
  expect(checkAnswer(framed(kv_.Range!.responseSerialize({ header, kvs: [], count: 0 })), key)).toContain("found 0 keys");
  expect(checkAnswer(framed(kv_.Range!.responseSerialize({ header, kvs: [kv("bench-key-00000042"), kv("b")], count: 2 })), key)).toContain("found 2 keys");
  expect(checkAnswer(framed(kv_.Range!.responseSerialize({ header, kvs: [kv("bench-key-00000043")], count: 1 })), key)).toContain("another key");
  expect(checkAnswer(framed(kv_.Range!.responseSerialize({ header, kvs: [kv("bench-key-0000004")], count: 1 })), key)).toContain("another key");
  expect(checkAnswer(framed(kv_.Put!.responseSerialize({})), null)).toContain("without a header revision");
  expect(checkAnswer(framed(kv_.Put!.responseSerialize({ header: { ...header, revision: 0 } })), null)).toContain("without a header revision");
  expect(checkAnswer(framed(kv_.DeleteRange!.responseSerialize({ header, deleted: 1, prev_kvs: [kv("x")] })), null)).toContain("field 3");
  const good = framed(kv_.Range!.responseSerialize({ header, kvs: [kv("bench-key-00000042")], count: 1 }));
  const compressed = Buffer.from(good);
  compressed[0] = 1;
  expect(checkAnswer(compressed, key)).toContain("uncompressed");
});

test("checkAnswer never throws on damaged answers (seeded truncations and byte flips)", () => {
  const header = { cluster_id: "1", member_id: "2", revision: 5, raft_term: 1 };
  const good = framed(kv_.Range!.responseSerialize({ header, kvs: [{ key: Buffer.from("k"), value: Buffer.alloc(50, 2), version: 1, create_revision: 2, mod_revision: 5 }], count: 1 }));
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 2_000; round++) {
    const bad = Buffer.from(good.subarray(0, 5 + Math.floor(random() * (good.length - 5))));
    if (bad.length > 5) bad[5 + Math.floor(random() * (bad.length - 5))] = Math.floor(random() * 256);
    bad.writeUInt32BE(bad.length - 5, 1);
    const result = checkAnswer(bad, Buffer.from("k"));
    expect(typeof result === "number" || typeof result === "string").toBe(true);
  }
});
