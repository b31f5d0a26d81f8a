import { check } from "./harness.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// 1. 测试领导者选举: one node leads (after a fresh bootstrap, node 1), and every node agrees on leader_id and term.

export const scenario: Scenario = {
  name: "01_leader_election",
  title: "测试领导者选举 (leader election)",
  timeoutMs: 60_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    await cluster.waitForLeader({ among: [1, 2, 3] });
    const statuses = await cluster.statuses([1, 2, 3]);
    check(statuses.size === 3, `all three nodes answer GET /status; answered: ${[...statuses.keys()].join(", ")}`);
    const all = [...statuses.values()];
    const leaders = all.filter((s) => s.is_leader === true);
    check(leaders.length === 1, `exactly one node reports is_leader: true; got nodes [${leaders.map((s) => s.id).join(", ")}]`);
    const leader = leaders[0]!;
    check(leader.state === "leader", `the leader's state is "leader", got ${JSON.stringify(leader.state)}`);
    for (const s of all) {
      check(s.leader_id === leader.id, `node ${s.id} reports leader_id ${s.leader_id}, expected ${leader.id}`);
      check(s.term === leader.term, `node ${s.id} reports term ${s.term}, expected ${leader.term} (the leader's)`);
      if (s.id !== leader.id) check(s.is_leader === false && s.state === "follower", `node ${s.id} is a follower, got state ${s.state}`);
    }
    check(leader.id === 1, `after a fresh bootstrap node 1 leads; got node ${leader.id}`);
  },
};
