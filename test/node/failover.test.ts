import { afterEach, describe, expect, test } from "bun:test";
import { isQklzlError } from "../../src/shared/errors.ts";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

async function errorCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return isQklzlError(error) ? error.code : `not a QklzlError: ${String(error)}`;
  }
}

describe("node: failover and restart", () => {
  test("stopping the leader hands leadership over; writes continue on the new leader and nothing acked is lost", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    for (let i = 0; i < 20; i++) await cluster.node(1).api.write({ op: "put", key: `a${i}`, value: `${i}` });
    const started = performance.now();
    await cluster.stop(1);
    const stopMs = performance.now() - started;
    const leader = await cluster.waitLeader(1);
    expect([2, 3]).toContain(leader);
    expect(stopMs).toBeLessThan(3_000);
    for (let i = 20; i < 40; i++) await cluster.node(leader).api.write({ op: "put", key: `a${i}`, value: `${i}` });
    const other = leader === 2 ? 3 : 2;
    for (let i = 0; i < 40; i += 7) expect(await cluster.node(other).api.read(`a${i}`, "linearizable")).toEqual({ value: `${i}` });
  }, 30_000);

  test("transfer-leader moves leadership; stopping the new leader leads to another election", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    await cluster.node(1).api.write({ op: "put", key: "x", value: "1" });
    await cluster.node(1).api.transferLeader(2);
    expect(cluster.status(2).is_leader).toBe(true);
    await cluster.stop(2);
    const leader = await cluster.waitLeader(2);
    expect([1, 3]).toContain(leader);
    await cluster.node(leader).api.write({ op: "put", key: "x", value: "2" });
    expect(await cluster.node(leader === 1 ? 3 : 1).api.read("x", "linearizable")).toEqual({ value: "2" });
  }, 30_000);

  test("with 2 of 3 nodes down the survivor refuses fast (no_quorum / no_leader), never hangs", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    await cluster.stop(2);
    await cluster.stop(3);
    await Bun.sleep(500); // the quorum is visibly lost once the peers were silent for an election timeout
    const started = performance.now();
    const code = await errorCode(cluster.node(1).api.write({ op: "put", key: "k", value: "v" }));
    expect(["no_quorum", "no_leader"]).toContain(code);
    expect(performance.now() - started).toBeLessThan(100);
    expect(["no_quorum", "no_leader", "timeout"]).toContain(await errorCode(cluster.node(1).api.read("k", "linearizable")));
    expect(await cluster.node(1).api.read("k", "stale")).toBeNull();
  }, 30_000);

  test("a full restart from disk keeps every acked write, and the bootstrap node is the designated leader", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    const acked: number[] = [];
    for (let i = 0; i < 100; i++) acked.push((await cluster.node(1).api.write({ op: "put", key: `r${i % 30}`, value: `${i}` })).index);
    const before = cluster.status(1);
    for (const id of [3, 2, 1]) await cluster.stop(id);
    // Scenario 9: node 1 -bootstrap, nodes 2 and 3 -join node 1, all on existing dirs.
    const joinAddr = cluster.addrs.get(1)!.httpAddr;
    await Promise.all([cluster.restart(1, { bootstrap: true }), cluster.restart(2, { join: joinAddr }), cluster.restart(3, { join: joinAddr })]);
    await waitFor("node 1 leads again", () => cluster.status(1).is_leader, 15_000);
    expect(cluster.status(1).members.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(cluster.status(1).cluster_id).toBe(before.cluster_id);
    // Right after the restart a node may still answer 503 (no_quorum / no_leader) while it hears from its peers
    // again: retry those, and only those; any answer must be the last acked value.
    for (const id of [1, 2, 3]) {
      const answer = await waitFor(`a linearizable read on node ${id}`, async () => {
        try {
          return { value: await cluster.node(id).api.read("r9", "linearizable") };
        } catch (error) {
          if (isQklzlError(error) && (error.code === "no_quorum" || error.code === "no_leader")) return undefined;
          throw error;
        }
      });
      expect(answer.value).toEqual({ value: "99" });
    }
    await waitFor("hashes agree", () => new Set([1, 2, 3].map((id) => cluster.status(id).kv_hash)).size === 1);
    expect(cluster.status(2).kv_hash).toBe(before.kv_hash);
  }, 40_000);

  test("restarting node 2 with -bootstrap makes it the leader (designated leader, scenario 10)", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    await cluster.node(1).api.write({ op: "put", key: "d", value: "1" });
    await cluster.stop(2);
    await cluster.restart(2, { bootstrap: true });
    await waitFor("node 2 leads", () => cluster.status(2).is_leader, 15_000);
    await cluster.node(2).api.write({ op: "put", key: "d", value: "2" });
    expect(await cluster.node(1).api.read("d", "linearizable")).toEqual({ value: "2" });
    expect(cluster.status(2).members.length).toBe(3);
  }, 40_000);

  test("a node restarted on new addresses gets them recorded through the leader", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    await cluster.stop(3);
    const node3 = await cluster.restart(3, { raftAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0" });
    await waitFor("the leader records node 3's new addresses", () => {
      const m = cluster.status(1).members.find((x) => x.id === 3);
      return m?.raft_addr === node3.raftAddr && m.http_addr === node3.httpAddr;
    }, 15_000);
    const { index } = await cluster.node(1).api.write({ op: "put", key: "moved", value: "yes" });
    await waitFor("node 3 applies new writes", () => cluster.status(3).applied_index >= index);
    expect(await node3.api.read("moved", "linearizable")).toEqual({ value: "yes" });
  }, 40_000);
});
