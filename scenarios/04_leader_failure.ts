import { check } from "./harness.ts";
import { seconds } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// 4. 测试领导者故障和自动选举: the leader is stopped (kill = SIGTERM); within 10 s a survivor leads, in a higher term.

export const scenario: Scenario = {
  name: "04_leader_failure",
  title: "测试领导者故障和自动选举 (leader failure)",
  follows: "quickstart_kv",
  timeoutMs: 60_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const before = await cluster.waitForLeader({ among: [1, 2, 3] });
    const survivors = [1, 2, 3].filter((id) => id !== before.leaderId);
    const stoppedAt = performance.now();
    await cluster.stop(before.leaderId);
    const after = await cluster.waitForLeader({
      among: survivors,
      deadlineMs: 10_000 - (performance.now() - stoppedAt),
      what: `a new leader among nodes ${survivors.join(", ")} within 10 s of stopping leader ${before.leaderId}`,
    });
    check(survivors.includes(after.leaderId), `the new leader ${after.leaderId} is a survivor`);
    check(after.term > before.term, `the new term ${after.term} is higher than the old leader's term ${before.term}`);
    ctx.notes.push(`node ${before.leaderId} stopped; node ${after.leaderId} leads in term ${after.term} after ${seconds(performance.now() - stoppedAt)}`);
  },
};
