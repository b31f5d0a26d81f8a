import { expectMissing, expectRead, expectWrite } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// Quick start "基本功能测试" 1-3: put test1 through the leader, read it from all three nodes, delete it, and
// read the deletion from node 2. Scenario 09 later checks that test1 stays deleted across restarts.

export const scenario: Scenario = {
  name: "quickstart_kv",
  title: "基本功能测试: 写入、读取、删除 (quick start put/get/delete)",
  follows: "03_follower_write_refused",
  timeoutMs: 60_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    await expectWrite(cluster, leaderId, { op: "put", key: "test1", value: "hello world" });
    for (const id of [1, 2, 3]) await expectRead(cluster, id, "test1", "hello world");
    await expectWrite(cluster, leaderId, { op: "delete", key: "test1" });
    await expectMissing(cluster, 2, "test1");
  },
};
