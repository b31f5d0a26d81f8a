import { check, notYet, waitFor } from "./harness.ts";
import { stopAll } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// 10. 测试指定Leader重启: all stopped; node 2 starts with -bootstrap, then nodes 3 and 1 join node 2; node 2 becomes
// the leader and every node reports leader_id 2.

export const scenario: Scenario = {
  name: "10_designated_leader_restart",
  title: "测试指定Leader重启 (designated leader restart)",
  follows: "09_durability_restart",
  timeoutMs: 120_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    await stopAll(cluster);
    await cluster.start(2, { bootstrap: true });
    await cluster.waitHttp(2);
    await cluster.start(3, { join: 2 });
    await cluster.waitHttp(3);
    await cluster.start(1, { join: 2 });
    await cluster.waitHttp(1);
    await waitFor(
      async () => {
        const statuses = await cluster.statuses([1, 2, 3]);
        const seen = [...statuses.values()].map((s) => ({ id: s.id, leader_id: s.leader_id, is_leader: s.is_leader, term: s.term }));
        const done = statuses.size === 3 && statuses.get(2)?.is_leader === true && seen.every((s) => s.leader_id === 2);
        return done || notYet(seen);
      },
      { deadlineMs: 30_000, what: "node 2 to lead with every node reporting leader_id 2" },
    );
    const statuses = await cluster.statuses([1, 2, 3]);
    check(statuses.size === 3, "all three nodes answer GET /status");
    const leader = statuses.get(2)!;
    check(leader.is_leader === true, `node 2 reports is_leader: true, got ${leader.is_leader}`);
    for (const s of statuses.values()) {
      check(s.leader_id === 2, `node ${s.id} reports leader_id ${s.leader_id}, expected 2`);
      check(s.term === leader.term, `node ${s.id} reports term ${s.term}, expected node 2's term ${leader.term}`);
      if (s.id !== 2) check(s.is_leader === false, `node ${s.id} does not also claim to lead`);
    }
  },
};
