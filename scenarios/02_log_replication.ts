import { expectRead, expectWrite } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// 2. 测试日志复制与一致性: key1 and key2 written through the leader are read back, the same, from every node.

export const scenario: Scenario = {
  name: "02_log_replication",
  title: "测试日志复制与一致性 (log replication)",
  follows: "01_leader_election",
  timeoutMs: 60_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    await expectWrite(cluster, leaderId, { op: "put", key: "key1", value: "value1" });
    await expectWrite(cluster, leaderId, { op: "put", key: "key2", value: "value2" });
    // Reads are linearizable on every node, so no waiting: an acknowledged write is visible everywhere at once.
    for (const id of [1, 2, 3]) {
      await expectRead(cluster, id, "key1", "value1");
      await expectRead(cluster, id, "key2", "value2");
    }
  },
};
