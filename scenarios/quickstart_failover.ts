import { check, describeReply, request } from "./harness.ts";
import { expectRead } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// Quick start "测试故障转移": stop the leader, wait for a new one, then write test_failover through node 2 as the
// document does. If node 2 is not the new leader its 307 is followed once, the way `curl -L` would.

export const scenario: Scenario = {
  name: "quickstart_failover",
  title: "测试故障转移 (quick start failover write)",
  timeoutMs: 60_000,
  async setup(ctx) {
    await freshCluster(ctx);
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const before = await cluster.waitForLeader({ among: [1, 2, 3] });
    await cluster.stop(before.leaderId);
    const survivors = cluster.running();
    const { leaderId } = await cluster.waitForLeader({ among: survivors, deadlineMs: 15_000 });
    const target = survivors.includes(2) ? 2 : leaderId;
    const body = { op: "put", key: "test_failover", value: "leader election works" };
    let reply = await request(cluster.node(target).httpAddr, "/kv", { json: body });
    if (reply.status === 307 && reply.location !== null) {
      const url = new URL(reply.location);
      ctx.notes.push(`node ${target} answered 307 to ${reply.location}; followed it`);
      reply = await request(url.host, `${url.pathname}${url.search}`, { json: body });
    }
    check(reply.status === 200 && reply.json?.ok === true, `the failover write is acknowledged, got ${describeReply(reply)}`);
    for (const id of survivors) await expectRead(cluster, id, "test_failover", "leader election works");
  },
};
