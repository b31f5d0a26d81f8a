// The CLI's idempotent write retry (src/cli/retry_write.ts) against the HTTP layer over the fake api: an
// unknown outcome (504) is retried with the same request id, which the state machine answers without
// applying twice; a definite refusal (no_quorum, compare_failed) is not retried.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { newRequestId, retryWrite } from "../../src/cli/retry_write.ts";
import { QklzlError } from "../../src/shared/errors.ts";
import { startTestNode, type TestNode } from "./fake_api.ts";

let node: TestNode;
beforeAll(() => {
  node = startTestNode(1);
});
afterAll(() => node.server.stop());

function kvRequestIds(): unknown[] {
  return node.api.calls.filter((call) => call.method === "kvRequest").map((call) => call.args[1]);
}

test("request ids are distinct hyperids", () => {
  const ids = new Set(Array.from({ length: 100 }, () => newRequestId()));
  expect(ids.size).toBe(100);
});

test("a timeout is retried with the same request id; the write applies once", async () => {
  const id = newRequestId();
  const calls = kvRequestIds().length;
  // The first attempt applies, then its answer is lost (as when the leader's reply never arrives): simulated by
  // applying it directly, then failing the HTTP attempt with timeout.
  await node.api.kvRequest({ kind: "put", put: { key: "r", value: "1" } }, id);
  const revision = node.api.store.revision;
  node.api.nextError = new QklzlError("timeout", "timed out: the outcome of the write is unknown");
  const answer = (await retryWrite(node.server.addr, "/kv", { op: "put", key: "r", value: "1", request_id: id } as never, 5000)) as { revision: number };
  expect(kvRequestIds().slice(calls)).toEqual([id, id, id]);
  expect(answer.revision).toBe(revision);
  expect(node.api.store.revision).toBe(revision);
});

test("no_quorum and compare_failed are not retried", async () => {
  const calls = kvRequestIds().length;
  node.api.nextError = new QklzlError("no_quorum", "the leader cannot reach a majority");
  const refused = await retryWrite(node.server.addr, "/kv", { op: "put", key: "r", value: "2", request_id: newRequestId() } as never, 5000).catch((e: QklzlError) => e);
  expect((refused as QklzlError).code).toBe("no_quorum");
  const failed = await retryWrite(node.server.addr, "/kv", { op: "put", key: "r", value: "2", if: { version: 0 }, request_id: newRequestId() } as never, 5000).catch((e: QklzlError) => e);
  expect((failed as QklzlError).code).toBe("compare_failed");
  expect(kvRequestIds().length - calls).toBe(2);
});
