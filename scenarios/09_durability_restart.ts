import { expectMissing, expectRead, expectWrite, stopAll } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// 9. 测试数据持久性: every node is stopped and restarted with the documented commands (node 1 -bootstrap, nodes 2
// and 3 -join node 1); key1..key4 still read back, and test1, deleted in the quick start, stays deleted.

const keys = [1, 2, 3, 4].map((n) => [`key${n}`, `value${n}`] as const);

export const scenario: Scenario = {
  name: "09_durability_restart",
  title: "测试数据持久性 (durability across a full restart)",
  follows: "08_majority_loss",
  timeoutMs: 120_000,
  async setup(ctx) {
    // The state the earlier scenarios leave: key1..key4 written, test1 written then deleted.
    const cluster = await freshCluster(ctx);
    for (const [key, value] of keys) await expectWrite(cluster, 1, { op: "put", key, value });
    await expectWrite(cluster, 1, { op: "put", key: "test1", value: "hello world" });
    await expectWrite(cluster, 1, { op: "delete", key: "test1" });
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    await stopAll(cluster);
    await cluster.start(1, { bootstrap: true });
    await cluster.waitHttp(1);
    await cluster.start(2, { join: 1 });
    await cluster.waitHttp(2);
    await cluster.start(3, { join: 1 });
    await cluster.waitHttp(3);
    const { leaderId, term } = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 30_000 });
    ctx.notes.push(`after the restart node ${leaderId} leads in term ${term}`);
    // Node 1, restarted with -bootstrap, is the designated leader and may take over while we read: a 503 during
    // that hand-over is a "retry shortly", not an answer, so reads retry those (never a wrong value or a 404).
    const retry = { retryUnavailableMs: 10_000 };
    for (const id of [1, 2, 3]) {
      for (const [key, value] of keys) await expectRead(cluster, id, key, value, retry);
      await expectMissing(cluster, id, "test1", retry);
    }
  },
};
