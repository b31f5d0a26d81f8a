import { expect, test } from "bun:test";
import { decodeRange, decodeTxn } from "../../../src/node/grpc/codec.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

// `serializable` is a read option of a top-level Range (which member answers, with or without ReadIndex); a
// txn is answered as a whole, so its range operations are decoded to the store's RangeRequest without it.
test("a top-level range keeps serializable; a txn's range operations, nested too, are the store's requests", () => {
  expect(decodeRange({ key: bytes("k"), serializable: true })).toEqual({ key: "k", sort_target: "key", serializable: true });
  const range = { request: "request_range", request_range: { key: bytes("k"), serializable: true, limit: 2 } };
  const txn = decodeTxn({
    compare: [],
    success: [range, { request: "request_txn", request_txn: { compare: [], success: [range], failure: [] } }],
    failure: [range],
  });
  expect(txn).toEqual({
    compare: [],
    success: [{ range: { key: "k", sort_target: "key", limit: 2 } }, { txn: { compare: [], success: [{ range: { key: "k", sort_target: "key", limit: 2 } }], failure: [] } }],
    failure: [{ range: { key: "k", sort_target: "key", limit: 2 } }],
  });
});
