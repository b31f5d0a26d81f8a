import { test } from "bun:test";
import { check } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { waitApplied, waitCompactedPast } from "../cluster/support.ts";
import { finalChecks, PartitionCluster, partitionFlags, probeCutOff, startLoad, startProbe, waitAcked, writeOk } from "./partition_harness.ts";

// Five nodes; the leader and one follower are cut off (both directions) from the other three while writers and
// readers run on every node. The three elect a new leader and keep taking writes; the old leader can neither
// acknowledge a write nor serve a linearizable read that misses a write the majority acknowledged. After
// healing, the cluster takes writes again and every acknowledged write is on every node. Snapshots are small
// and frequent, and the cut lasts until the new leader compacted its log past what the cut-off pair holds, so
// the pair catches up through snapshots streamed over the proxied links. Node 1, the first leader, has a longer
// election timeout than the others, so after the cut it goes on believing it leads (until check-quorum makes it
// step down) well after the majority elected and acknowledged writes: the window in which a leader that served
// reads without confirming its leadership (ReadIndex) would answer stale.

const cluster = new PartitionCluster({
  name: "it-partition-minority",
  size: 5,
  extraArgs: [...partitionFlags, "--snapshot-entries", "100", "--trailing-entries", "20", "--segment-bytes", "8192"],
  nodeArgs: { 1: ["--election-ms", "1500"] },
});
const timeout = 90_000;

formedForThisFile(cluster, { timeoutMs: timeout });

test("the leader cut off with a minority loses its leadership safely, and the cluster recovers when healed", async () => {
  await cluster.explain(async () => {
    const all = cluster.ids;
    await cluster.checkProxied(1);
    const before = await cluster.waitForLeader({ among: all });
    const old = before.leaderId;
    const buddy = all.find((id) => id !== old)!;
    const majority = all.filter((id) => id !== old && id !== buddy);
    const load = startLoad(cluster, "minority-");
    await writeOk(cluster, "fence", "before-cut", all, { history: load.history });
    const probe = startProbe(cluster, load.history, [old, buddy], "fence");
    try {
      await waitAcked(load, 30, "before the cut");
      cluster.links.partition([old, buddy], majority);
      const after = await cluster.waitForLeader({ among: majority, deadlineMs: 10_000, what: `a new leader among ${majority.join(", ")}` });
      check(after.term > before.term, `the new leader ${after.leaderId} leads in a later term (${after.term}) than the old one (${before.term})`);
      await writeOk(cluster, "fence", "after-cut", majority, { history: load.history });
      await probeCutOff(cluster, old, "fence", "after-cut");
      await probeCutOff(cluster, buddy, "fence", "after-cut");
      await waitAcked(load, 30, `on the majority side (${majority.join(", ")}) during the cut`);
      const behind = Math.max(...(await Promise.all([old, buddy].map(async (id) => (await cluster.status(id))?.last_log_index ?? 0))));
      await waitCompactedPast(cluster, after.leaderId, behind, 15_000);

      cluster.checkCutBit(old, majority);
      cluster.checkCutBit(after.leaderId, [old, buddy]);
      cluster.links.healAll();
      await cluster.waitForLeader({ among: all, deadlineMs: 10_000, what: "one leader agreed on by all five after healing" });
      await writeOk(cluster, "healed", "yes", all);
      await waitAcked(load, 30, "after healing");
      for (const id of [old, buddy]) {
        const s = await waitApplied(cluster, id, behind + 1, 15_000);
        check(s.snapshots_installed >= 1, `node ${id} caught up through a snapshot: ${s.snapshots_installed} installed`);
      }
    } finally {
      await Promise.all([probe.stop(), load.stop()]);
    }
    await finalChecks(cluster, load, all);
  });
}, timeout);
