import { expectRead, expectWrite } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// 7. 测试网络分区: node 3 is stopped; the two others still take key4 and both read it.

export const scenario: Scenario = {
  name: "07_partition_one_node",
  title: "测试网络分区 (one node lost)",
  follows: "06_node_recovery",
  timeoutMs: 60_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    await cluster.waitForLeader({ among: [1, 2, 3] });
    await cluster.stop(3);
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2] });
    await expectWrite(cluster, leaderId, { op: "put", key: "key4", value: "value4" });
    await expectRead(cluster, 1, "key4", "value4");
    await expectRead(cluster, 2, "key4", "value4");
  },
};
