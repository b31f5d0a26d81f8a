// The MVCC API of issue 12 against a real 3-node cluster (in process): the apply answer of a write reaches the
// HTTP caller (prev_kv, deleted, txn responses, revision), ranges on followers are linearizable, a retried
// request id applies once on every replica, and follower writes redirect or forward as the original routes do.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = new TestCluster();
  await cluster.bootstrap(3);
}, 30_000);
afterAll(async () => {
  await cluster?.close();
});

function url(id: number, path: string): string {
  return `http://${cluster.node(id).httpAddr}${path}`;
}

async function post(id: number, path: string, body: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(url(id, path), { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" }, redirect: "manual" });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function get(id: number, path: string): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(url(id, path));
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe("MVCC API on a real cluster", () => {
  test("a put's answer carries its revision and prev_kv; a follower's range sees it at once", async () => {
    const first = await post(1, "/kv", { op: "put", key: "cfg/a", value: "1", prev_kv: true });
    expect(first.status).toBe(200);
    expect(first.body.prev_kv).toBeUndefined();
    const second = await post(1, "/kv", { op: "put", key: "cfg/a", value: "2", prev_kv: true });
    expect(second.body.revision).toBe(first.body.revision + 1);
    expect(second.body.prev_kv).toMatchObject({ key: "cfg/a", value: "1", mod_revision: first.body.revision, version: 1 });
    // Linearizable on a follower: the acknowledged write is visible, with the store revision at least its own.
    const range = await get(3, "/kv?prefix=cfg/");
    expect(range.body.kvs).toEqual([
      { key: "cfg/a", value: "2", create_revision: first.body.revision, mod_revision: second.body.revision, version: 2, lease: 0 },
    ]);
    expect(range.body.revision).toBeGreaterThanOrEqual(second.body.revision);
    const old = await get(2, `/kv?key=cfg/a&revision=${first.body.revision}`);
    expect(old.body.kvs[0].value).toBe("1");
  }, 30_000);

  test("compare-and-set through if: one of two racing writers wins, the loser gets 412 with the winner's kv", async () => {
    const base = await post(1, "/kv", { op: "put", key: "lock", value: "free", prev_kv: false });
    const racers = await Promise.all(
      ["a", "b"].map((who) => post(1, "/kv", { op: "put", key: "lock", value: who, if: { mod_revision: base.body.revision } })),
    );
    const statuses = racers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412]);
    const winner = racers.find((r) => r.status === 200)!;
    const loser = racers.find((r) => r.status === 412)!;
    expect(loser.body.error).toBe("compare_failed");
    expect(loser.body.kv.mod_revision).toBe(winner.body.revision);
  }, 30_000);

  test("a txn's responses and a delete's count reach the caller; a follower redirects, or forwards on request", async () => {
    await post(1, "/kv", { op: "put", key: "t/1", value: "x", prev_kv: false });
    const txn = {
      compare: [{ key: "t/1", target: "version", result: ">", value: 0 }],
      success: [{ delete_range: { key: "t/", range_end: "t0", prev_kv: true } }, { put: { key: "done/t", value: "yes" } }],
      failure: [],
    };
    const redirected = await post(2, "/txn", txn);
    expect(redirected.status).toBe(307);
    expect(redirected.body.leader_id).toBe(1);
    const done = await post(2, "/txn?forward=true", txn);
    expect(done.status).toBe(200);
    expect(done.body.succeeded).toBe(true);
    expect(done.body.responses[0].delete_range.deleted).toBe(1);
    expect(done.body.responses[0].delete_range.prev_kvs[0].value).toBe("x");
    expect(done.body.responses[1].put.revision).toBe(done.body.revision);
  }, 30_000);

  test("a retried request_id applies once on every replica and answers the first result", async () => {
    const body = { op: "put", key: "counter", value: "1", request_id: "cli-retry-1", prev_kv: true };
    const first = await post(1, "/kv", body);
    const again = await post(1, "/kv", body);
    expect(again.body.revision).toBe(first.body.revision);
    const now = await get(1, "/kv?key=counter&limit=1");
    expect(now.body.kvs[0].version).toBe(1);
    const index = again.body.index;
    await waitFor("all applied", () => [1, 2, 3].every((id) => cluster.status(id).applied_index >= index));
    expect(new Set([1, 2, 3].map((id) => cluster.status(id).kv_hash)).size).toBe(1);
  }, 30_000);

  test("compaction is replicated; a read below it is 410 compacted naming the revision, above the store 400", async () => {
    const written = await post(1, "/kv", { op: "put", key: "h", value: "old", prev_kv: false });
    await post(1, "/kv", { op: "put", key: "h", value: "new", prev_kv: false });
    const compacted = await post(1, "/compact", { revision: written.body.revision + 1 });
    expect(compacted.status).toBe(200);
    await waitFor("compaction applied on 3", () => cluster.status(3).applied_index >= compacted.body.index);
    const gone = await get(3, `/kv?key=h&revision=${written.body.revision}&consistency=stale`);
    expect(gone.status).toBe(410);
    expect(gone.body.compact_revision).toBe(written.body.revision + 1);
    const future = await get(3, `/kv?key=h&revision=${compacted.body.revision + 1000}`);
    expect(future.body.error).toBe("future_revision");
  }, 30_000);
});
