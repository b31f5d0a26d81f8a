import { expect, test } from "bun:test";
import { check, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { checkHistory } from "./cas_checker.ts";
import { runCasWorkload, type Workload } from "./cas_workload.ts";
import { PartitionCluster, partitionFlags } from "./partition_harness.ts";

// The CAS register workload of cas_register.test.ts under partitions (the link proxy cuts Raft links; HTTP stays
// reachable, so clients keep talking to the cut-off node): the leader is cut off from both followers, then
// healed, then one follower is cut off and healed. Node 1, the first leader, has a longer election timeout, so
// after the cut it goes on believing it leads until check-quorum steps it down. The history must be linearizable.

const cluster = new PartitionCluster({ name: "it-cas-partition", size: 3, extraArgs: partitionFlags, nodeArgs: { 1: ["--election-ms", "1500"] } });

formedForThisFile(cluster, { timeoutMs: 90_000 });

async function progress(workload: Workload, count: number, what: string): Promise<void> {
  const target = workload.ops.length + count;
  await waitFor(() => workload.ops.length >= target, { deadlineMs: 20_000, what: `${count} more operations ${what}` });
}

test("CAS register through if and txn: linearizable while the leader, then a follower, is partitioned away", async () => {
  await cluster.explain(async () => {
    const all = cluster.ids;
    await cluster.checkProxied(1);
    const workload = runCasWorkload(cluster, { keyPrefix: "part", keys: 3, clients: 5, requestTimeoutMs: 1500, maxOps: 1100 });
    try {
      await progress(workload, 80, "before any cut");

      const before = await cluster.waitForLeader({ among: all });
      const rest = all.filter((id) => id !== before.leaderId);
      cluster.links.partition([before.leaderId], rest);
      const after = await cluster.waitForLeader({ among: rest, deadlineMs: 10_000, what: `a new leader among ${rest.join(", ")}` });
      check(after.term > before.term, `the new leader leads in a later term (${after.term} > ${before.term})`);
      await progress(workload, 80, `while node ${before.leaderId} is cut off`);
      cluster.checkCutBit(before.leaderId, rest);
      cluster.links.healAll();
      await cluster.waitForLeader({ among: all, deadlineMs: 10_000, what: "one leader after healing" });
      await progress(workload, 60, "after healing");

      const { leaderId } = await cluster.waitForLeader({ among: all });
      const follower = all.find((id) => id !== leaderId)!;
      cluster.links.partition([follower], all.filter((id) => id !== follower));
      await progress(workload, 80, `while follower ${follower} is cut off`);
      cluster.links.healAll();
      await progress(workload, 60, "after healing the follower");
    } finally {
      await workload.stop();
    }
    const result = checkHistory(workload.ops);
    const count = (kind: string, status: string) => workload.ops.filter((op) => op.kind === kind && op.status === status).length;
    console.log(`cas register under partitions: ${workload.ops.length} ops, cas ok ${count("cas", "ok")} fail ${count("cas", "fail")} info ${count("cas", "info")}, reads ${count("read", "ok")}`);
    expect(workload.anomalies).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(count("cas", "ok")).toBeGreaterThanOrEqual(50);
  });
}, 120_000);
