import { test } from "bun:test";
import { check } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { checkTermsStayBelowLeader, finalChecks, PartitionCluster, partitionFlags, probeCutOff, startLoad, startProbe, waitAcked, writeOk } from "./partition_harness.ts";

// Five nodes in a bridge: two sides that cannot see each other, {leader, a} and {b1, b2}, both connected to one
// middle node m. Either side is a majority (3 of 5) only together with m: the leader's side keeps its leader
// and takes writes; b1 and b2, which hear no leader, must not serve a stale read, and pre-vote (m still hears
// the leader) keeps them from raising their term and dragging m and the leader into new elections. Healed,
// everyone agrees again and every acknowledged write is on every node.

const cluster = new PartitionCluster({ name: "it-partition-bridge", size: 5, extraArgs: partitionFlags });
const timeout = 90_000;

formedForThisFile(cluster, { timeoutMs: timeout });

test("a bridge partition (two sides that both see one middle node) keeps one leader per term and loses nothing", async () => {
  await cluster.explain(async () => {
    const all = cluster.ids;
    await cluster.checkProxied(1);
    const before = await cluster.waitForLeader({ among: all });
    const leader = before.leaderId;
    const [a, middle, b1, b2] = all.filter((id) => id !== leader) as [number, number, number, number];
    const sideA = [leader, a];
    const sideB = [b1, b2];
    const load = startLoad(cluster, "bridge-");
    await writeOk(cluster, "fence", "before-cut", all, { history: load.history });
    const probe = startProbe(cluster, load.history, sideB, "fence");
    try {
      await waitAcked(load, 30, "before the bridge");
      cluster.links.partition(sideA, sideB);
      // The leader still has a majority ({leader, a, m}); writes go on through the bridge.
      await waitAcked(load, 30, `with sides ${sideA.join(",")} | ${sideB.join(",")} bridged by ${middle}`);
      const during = await cluster.waitForLeader({ among: [...sideA, middle], deadlineMs: 10_000, what: `one leader among ${[...sideA, middle].join(", ")}` });
      check(!sideB.includes(during.leaderId), `the leader ${during.leaderId} is on the side that has a majority with ${middle}`);
      await writeOk(cluster, "fence", "during-bridge", [...sideA, middle], { history: load.history });
      for (const id of sideB) await probeCutOff(cluster, id, "fence", "during-bridge");
      await waitAcked(load, 30, "later in the bridge");
      // Pre-vote: b1 and b2 never get a majority of pre-votes, so they never raise their term past the leader's.
      await checkTermsStayBelowLeader(cluster, sideB, [...sideA, middle], 3000);
      cluster.checkCutBit(during.leaderId, sideB);
      check(all.every((id) => id === middle || (cluster.links.stats(middle, id).droppedBytes === 0 && cluster.links.stats(id, middle).droppedBytes === 0)), `the middle node's links were never cut: ${cluster.links.describe()}`);

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
