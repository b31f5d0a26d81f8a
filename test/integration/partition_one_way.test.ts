import { test } from "bun:test";
import { check } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { checkTermsStayBelowLeader, finalChecks, PartitionCluster, partitionFlags, probeCutOff, startLoad, startProbe, waitAcked, writeOk } from "./partition_harness.ts";

// Five nodes; a one-way cut: the leader's messages still reach every follower, but nothing any follower sends
// reaches the leader. Its heartbeats keep arriving, so only check-quorum (the leader steps down when it hears
// from no majority) lets the followers elect a new leader; pre-vote keeps the old one, which hears nothing,
// from raising its term (and forcing a needless election when the cut heals). The old leader acknowledges no write and serves no stale read;
// after healing it follows the new leader and every acknowledged write is on every node.

const cluster = new PartitionCluster({ name: "it-partition-one-way", size: 5, extraArgs: partitionFlags });
const timeout = 90_000;

formedForThisFile(cluster, { timeoutMs: timeout });

test("a leader that can send but not hear steps down; the others elect, take writes, and the old leader rejoins when healed", async () => {
  await cluster.explain(async () => {
    const all = cluster.ids;
    await cluster.checkProxied(1);
    const before = await cluster.waitForLeader({ among: all });
    const old = before.leaderId;
    const others = all.filter((id) => id !== old);
    const load = startLoad(cluster, "one-way-");
    await writeOk(cluster, "fence", "before-cut", all, { history: load.history });
    const probe = startProbe(cluster, load.history, [old], "fence");
    try {
      await waitAcked(load, 30, "before the cut");
      for (const id of others) cluster.links.cut(id, old);
      const after = await cluster.waitForLeader({ among: others, deadlineMs: 10_000, what: `a new leader among ${others.join(", ")} while ${old} hears nothing` });
      check(after.term > before.term, `the new leader ${after.leaderId} leads in a later term (${after.term}) than the old one (${before.term})`);
      await writeOk(cluster, "fence", "after-cut", others, { history: load.history });
      await probeCutOff(cluster, old, "fence", "after-cut");
      await waitAcked(load, 30, `on ${others.join(", ")} during the one-way cut`);
      // Pre-vote: the old leader hears no answer to its pre-votes, so it never raises its term (which would
      // force a needless election when the cut heals); watched for a few of its election timeouts.
      await checkTermsStayBelowLeader(cluster, [old], others, 3000);
      // The cut is one-way: the old leader's bytes kept arriving, the followers' were dropped.
      check(others.every((id) => cluster.links.stats(old, id).droppedBytes === 0), `nothing from node ${old} was dropped: ${cluster.links.describe()}`);
      cluster.checkCutBit(after.leaderId, [old]);

      cluster.links.healAll();
      await cluster.waitForLeader({ among: all, deadlineMs: 10_000, what: "one leader agreed on by all five after healing" });
      await writeOk(cluster, "healed", "yes", all);
      await waitAcked(load, 30, "after healing");
    } finally {
      await Promise.all([probe.stop(), load.stop()]);
    }
    await finalChecks(cluster, load, all);
  });
}, timeout);
