import { test } from "bun:test";
import { check, request, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { finalChecks, PartitionCluster, partitionFlags, probeCutOff, startLoad, startProbe, waitAcked, writeOk } from "./partition_harness.ts";

// Membership changes while a member is cut off. Three voters; one follower f is cut off both ways. While it is
// cut: node 4 joins (learner, caught up, promoted: four voters, three of them reachable, still a quorum), then f
// is removed (back to three voters, all reachable). f never hears of either change. Under load all along: one
// leader per term, f acknowledges nothing and serves no stale read, and after healing the three members agree,
// take writes and hold every acknowledged write, and f, learning of its removal, stops without disturbing them.
// Then a join proposed into a partition: the leader is cut off together with a new node 5 that joins through it
// at once. The leader cannot commit the addition; the other two voters elect a new leader, keep taking writes,
// and node 5, which can reach only the old leader, cannot catch up until the partition heals. Healed, node 5
// ends up a voter of four and holds every acknowledged write.

const cluster = new PartitionCluster({ name: "it-partition-membership", size: 5, extraArgs: partitionFlags });
const timeout = 90_000;

formedForThisFile(cluster, { timeoutMs: timeout, ids: [1, 2, 3] });

async function voters(via: number): Promise<number[]> {
  const status = await cluster.status(via);
  return (status?.members ?? []).filter((m) => m.role === "voter").map((m) => m.id).sort();
}

test("a member joins and another is removed while that one is cut off: nothing acknowledged is lost", async () => {
  await cluster.explain(async () => {
    const before = await cluster.waitForLeader({ among: [1, 2, 3] });
    const leader = before.leaderId;
    const [cut, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    const load = startLoad(cluster, "membership-");
    await writeOk(cluster, "fence", "before-cut", [1, 2, 3], { history: load.history });
    const probe = startProbe(cluster, load.history, [cut], "fence");
    try {
      await waitAcked(load, 30, "before the cut");
      cluster.links.partition([cut], [leader, other, 4]);

      await cluster.start(4, { join: leader });
      await cluster.waitForVoters(leader, [1, 2, 3, 4], 15_000);
      await cluster.checkProxied(leader);
      await waitAcked(load, 30, `with node 4 a voter and node ${cut} cut off (3 of 4 voters reachable)`);

      const leave = await request(cluster.node(leader).httpAddr, "/leave", { json: { id: cut }, timeoutMs: 10_000 });
      check(leave.status === 200 && leave.json?.ok === true, `POST /leave ${cut} to leader ${leader}: HTTP ${leave.status} ${leave.text}`);
      const members = [leader, other, 4];
      await waitFor(async () => JSON.stringify(await voters(leader)) === JSON.stringify([...members].sort()), { deadlineMs: 10_000, what: `leader ${leader} to list voters ${members.join(", ")}` });
      await writeOk(cluster, "fence", "after-changes", members, { history: load.history });
      if (cluster.isRunning(cut)) await probeCutOff(cluster, cut, "fence", "after-changes");
      await waitAcked(load, 30, `after node ${cut}'s removal`);
      cluster.checkCutBit(leader, [cut]);

      cluster.links.healAll();
      const healed = await cluster.waitForLeader({ among: members, deadlineMs: 10_000, what: `one leader agreed on by ${members.join(", ")} after healing` });
      check(healed.leaderId !== cut, `the removed node ${cut} does not lead`);
      await writeOk(cluster, "healed", "yes", members);
      await waitAcked(load, 30, "after healing");
      // Healed, the removed node learns of its removal and shuts itself down (README: `qklzl leave N`).
      await waitFor(() => !cluster.isRunning(cut), { deadlineMs: 15_000, what: `the removed node ${cut} to stop after healing` });
      check(cluster.node(cut).proc?.exitCode === 0, `the removed node ${cut} exited cleanly: ${cluster.describeExit(cut)}`);
      for (const id of members) {
        const got = await voters(id);
        check(JSON.stringify(got) === JSON.stringify([...members].sort()), `node ${id} lists voters ${members.join(", ")}: ${got.join(", ")}`);
      }
    } finally {
      await Promise.all([probe.stop(), load.stop()]);
    }
    await finalChecks(cluster, load, [leader, other, 4]);
    survivors = [leader, other, 4];
  });
}, timeout);

let survivors: number[] = [];

test("a join proposed through a leader that is cut off with the joining node completes after healing", async () => {
  await cluster.explain(async () => {
    check(survivors.length === 3, "the first test left three voters");
    const before = await cluster.waitForLeader({ among: survivors });
    const old = before.leaderId;
    const majority = survivors.filter((id) => id !== old);
    const load = startLoad(cluster, "join-cut-");
    await writeOk(cluster, "fence2", "before-cut", survivors, { history: load.history });
    const probe = startProbe(cluster, load.history, [old], "fence2");
    try {
      await waitAcked(load, 30, "before the cut");
      cluster.links.partition([old, 5], majority);
      await cluster.start(5, { join: old });
      const after = await cluster.waitForLeader({ among: majority, deadlineMs: 10_000, what: `a new leader among ${majority.join(", ")}` });
      check(after.term > before.term, `the new leader ${after.leaderId} leads in a later term (${after.term}) than the old one (${before.term})`);
      await writeOk(cluster, "fence2", "after-cut", majority, { history: load.history });
      await probeCutOff(cluster, old, "fence2", "after-cut");
      await waitAcked(load, 30, `on ${majority.join(", ")} while node 5 tries to join`);
      check(!(await voters(after.leaderId)).includes(5), "node 5 is no voter while it cannot reach the majority");

      cluster.links.healAll();
      const all = [...survivors, 5];
      await cluster.waitForVoters(after.leaderId, all, 20_000);
      await cluster.waitForLeader({ among: all, deadlineMs: 10_000, what: `one leader agreed on by ${all.join(", ")} after healing` });
      await writeOk(cluster, "healed2", "yes", all);
      await waitAcked(load, 30, "after healing");
    } finally {
      await Promise.all([probe.stop(), load.stop()]);
    }
    await finalChecks(cluster, load, [...survivors, 5]);
  });
}, timeout);
