import { afterEach, describe, expect, test } from "bun:test";
import { isQklzlError } from "../../src/shared/errors.ts";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return isQklzlError(error) ? error.code : `not a QklzlError: ${String(error)}`;
  }
}

describe("node: a 3-node cluster in one process", () => {
  test("bootstrap + 2 joins elect, replicate, and read linearizably on every node", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    const leader = cluster.node(1);
    const status = leader.api.status();
    expect(status.members.map((m) => [m.id, m.role])).toEqual([[1, "voter"], [2, "voter"], [3, "voter"]]);
    expect(status.cluster_id).not.toBe("");
    for (let i = 0; i < 50; i++) await leader.api.write({ op: "put", key: `k${i}`, value: `v${i}` });
    const { index } = await leader.api.write({ op: "delete", key: "k0" });
    for (const id of [1, 2, 3]) {
      const node = cluster.node(id);
      expect(await node.api.read("k7", "linearizable")).toEqual({ value: "v7" });
      expect(await node.api.read("k0", "linearizable")).toBeNull();
      expect(node.api.status().cluster_id).toBe(status.cluster_id);
    }
    await waitFor("all applied", () => [1, 2, 3].every((id) => cluster.status(id).applied_index >= index));
    const hashes = new Set([1, 2, 3].map((id) => cluster.status(id).kv_hash));
    expect(hashes.size).toBe(1);
    expect(cluster.status(2).kv_keys).toBe(49);
  }, 30_000);

  test("a follower refuses writes with not_leader naming the leader", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    const error = await cluster.node(2).api.write({ op: "put", key: "a", value: "b" }).catch((e) => e);
    expect(isQklzlError(error) && error.code).toBe("not_leader");
    expect(error.details).toEqual({ leader_id: 1, leader_http_addr: cluster.node(1).httpAddr });
    expect(error.message).toContain("the leader is node 1");
    const response = await fetch(`http://${cluster.node(3).httpAddr}/kv`, { method: "POST", body: JSON.stringify({ op: "put", key: "a", value: "b" }), redirect: "manual" });
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe(`http://${cluster.node(1).httpAddr}/kv`);
  }, 30_000);

  test("a linearizable read on a follower sees a write acked just before; reads batch into shared rounds", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    const leader = cluster.node(1).api;
    for (let i = 0; i < 100; i++) {
      await leader.write({ op: "put", key: "counter", value: String(i) });
      const follower = cluster.node(2 + (i % 2)).api;
      expect(await follower.read("counter", "linearizable")).toEqual({ value: String(i) });
    }
    // 500 concurrent reads on a follower share far fewer ReadIndex rounds.
    const roundsBefore = Number(/qklzl_read_index_rounds_total (\d+)/.exec(cluster.node(2).api.metricsText())?.[1] ?? "NaN");
    const reads = await Promise.all(Array.from({ length: 500 }, () => cluster.node(2).api.read("counter", "linearizable")));
    expect(reads.every((r) => r?.value === "99")).toBe(true);
    const metrics = cluster.node(2).api.metricsText();
    expect(metrics).toContain("qklzl_fsync_seconds_bucket");
    expect(metrics).toMatch(/qklzl_raft_term 2/);
    const rounds = Number(/qklzl_read_index_rounds_total (\d+)/.exec(metrics)?.[1]) - roundsBefore;
    expect(rounds).toBeGreaterThanOrEqual(1);
    expect(rounds).toBeLessThan(50);
  }, 30_000);

  test("a write waits for commit: with its followers gone the leader's pending write times out as outcome unknown", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3, { requestTimeoutMs: 600 });
    await cluster.stop(2);
    await cluster.stop(3);
    // Within the election timeout the leader still believes in its quorum: the write is appended, never commits.
    const error = await cluster.node(1).api.write({ op: "put", key: "lost", value: "?" }).catch((e) => e);
    expect(isQklzlError(error) && error.code).toMatch(/^(timeout|no_quorum|no_leader)$/);
    if (error.code === "timeout") expect(error.message).toContain("unknown");
    expect(await cluster.node(1).api.read("lost", "stale")).toBeNull();
  }, 30_000);

  test("an empty data dir without -bootstrap or -join is refused with a clear message", async () => {
    cluster = new TestCluster();
    const error = await cluster.start(1).catch((e) => e);
    expect(isQklzlError(error) && error.code).toBe("bad_request");
    expect(error.message).toContain("-bootstrap");
    // Nothing was left listening: the same node can start properly right after.
    await cluster.start(1, { bootstrap: true });
    await waitFor("node 1 leads", () => cluster.status(1).is_leader);
  }, 30_000);
});
