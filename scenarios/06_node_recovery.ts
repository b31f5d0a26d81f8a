import { check, waitFor } from "./harness.ts";
import { expectRead } from "./expect.ts";
import { scenario as newLeaderWrites } from "./05_new_leader_writes.ts";
import { after, clusterOf, type Scenario } from "./scenario.ts";

// 6. 测试节点恢复: the stopped node restarts with -join to a survivor and its old data dir, and reads key3,
// which was written while it was down.

export const scenario: Scenario = {
  name: "06_node_recovery",
  title: "测试节点恢复 (node recovery)",
  follows: "05_new_leader_writes",
  timeoutMs: 120_000,
  setup: after(newLeaderWrites),
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const down = cluster.ids.filter((id) => !cluster.isRunning(id));
    check(down.length === 1, `exactly one node is down before recovery; down: ${down.join(", ")}`);
    const restarted = down[0]!;
    // The document joins through 127.0.0.1:8002, i.e. the first survivor.
    const via = cluster.running()[0]!;
    await cluster.start(restarted, { join: via });
    await cluster.waitHttp(restarted);
    await waitFor(async () => (await cluster.get(restarted, "key3")).status === 200, {
      deadlineMs: 20_000,
      what: `node ${restarted} to serve GET /kv?key=key3`,
    });
    await expectRead(cluster, restarted, "key3", "value3");
    const view = await cluster.waitForLeader({ among: [1, 2, 3] });
    await cluster.waitForVoters(view.leaderId, [1, 2, 3]);
  },
};
