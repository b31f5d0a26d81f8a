import { check } from "./harness.ts";
import { expectRead, expectWrite } from "./expect.ts";
import { scenario as leaderFailure } from "./04_leader_failure.ts";
import { after, clusterOf, type Scenario } from "./scenario.ts";

// 5. 测试新领导者能否处理写请求: key3 written through the new leader is readable on both survivors.

export const scenario: Scenario = {
  name: "05_new_leader_writes",
  title: "测试新领导者能否处理写请求 (the new leader takes writes)",
  follows: "04_leader_failure",
  timeoutMs: 90_000,
  setup: after(leaderFailure),
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const survivors = cluster.running();
    check(survivors.length === 2, `two nodes are running after the leader was stopped; running: ${survivors.join(", ")}`);
    const { leaderId } = await cluster.waitForLeader({ among: survivors });
    await expectWrite(cluster, leaderId, { op: "put", key: "key3", value: "value3" });
    for (const id of survivors) await expectRead(cluster, id, "key3", "value3");
  },
};
