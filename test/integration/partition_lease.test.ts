import { expect, test } from "bun:test";
import { check, request } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { Keeper, LeaseClient, Watcher } from "./lease_support.ts";
import { PartitionCluster, partitionFlags } from "./partition_harness.ts";

// Leases across partitions (three nodes, every Raft link through the LinkProxy). The leader is cut off from the
// majority, both ways and then one way (it can send but hears nothing): keepalives go on to the majority
// side's new leader, no key is deleted before its TTL counted from the last acknowledged keepalive (the old
// leader's expiry clock cannot revoke anything: its revoke entries never commit), an idle lease still expires
// on time on the majority side, and after healing every replica holds the same keys at the same revision.

// Node 1, the first leader, has a longer election timeout: cut off, it goes on believing it leads (until
// check-quorum) well after the others elected: the window in which a leader answering keepalives without a
// ReadIndex round would acknowledge ones the new leader never hears of (and the lease would expire early).
const cluster = new PartitionCluster({ name: "it-partition-lease", size: 3, extraArgs: partitionFlags, nodeArgs: { 1: ["--election-ms", "1500"] } });
const timeout = 120_000;
const ttl = 3;
/** late_ms_max: a cut-off leader costs check-quorum's step-down plus an election before the new one counts. */
const late_ms_max = 3500;
const leases = new LeaseClient(cluster, ttl, late_ms_max);

formedForThisFile(cluster, { timeoutMs: timeout });

/** replicasAgree: same applied index, kv_hash (keys, values, leases) and revision on all three, and the same prefix listing. */
async function replicasAgree(prefix: string): Promise<void> {
  await cluster.waitConverged(cluster.ids, 20_000);
  const statuses = [...(await cluster.statuses(cluster.ids)).values()] as unknown as { kv_revision: number; kv_hash: unknown }[];
  expect(new Set(statuses.map((s) => s.kv_revision)).size).toBe(1);
  const listings = await Promise.all(
    cluster.ids.map(async (id) => JSON.stringify((await request(cluster.node(id).httpAddr, `/kv?prefix=${encodeURIComponent(prefix)}&consistency=stale`)).json)),
  );
  expect(new Set(listings).size).toBe(1);
}

type Cut = "both ways" | "one way";

/**
 * probeKeepalives asks the cut-off node `id` (directly, no forwarding elsewhere) for keepalives of `lease`
 * every 100 ms until stopped, and returns when after the cut each acknowledged one was sent: a leader cut off
 * from the majority must acknowledge none (only a ReadIndex round that a majority answers proves it still
 * leads; an ack it gives without one is a promise the new leader never hears of, and the lease would expire
 * before its TTL counted from that ack). Requests sent in the first 300 ms may have been confirmed before the cut.
 */
function probeKeepalives(id: number, lease: number, cutAt: number): { sent: number; stop(): Promise<number[]> } {
  let stopping = false;
  const acked: number[] = [];
  const state = {
    sent: 0,
    async stop() {
      stopping = true;
      await loop;
      return acked;
    },
  };
  const until = cutAt + 60_000;
  const loop = (async () => {
    while (!stopping && performance.now() < until) {
      const sentAt = performance.now();
      const reply = await request(cluster.node(id).httpAddr, "/lease/keepalive", { method: "POST", json: { id: lease }, timeoutMs: 1000 });
      state.sent++;
      if (reply.status === 200 && sentAt - cutAt > 300) acked.push(sentAt - cutAt);
      await Bun.sleep(100);
    }
  })();
  return state;
}

async function leaseAcrossCut(cut: Cut, prefix: string): Promise<void> {
  const before = await cluster.waitForLeader({ among: cluster.ids });
  const old = before.leaderId;
  const others = cluster.ids.filter((id) => id !== old);
  const kept = await leases.grant();
  await leases.putWithLease(`${prefix}kept/1`, kept.id);
  await leases.putWithLease(`${prefix}kept/2`, kept.id);
  const keeper = new Keeper(leases, kept.id, kept.sentAt);
  const watcher = new Watcher(leases, [`${prefix}kept/1`, `${prefix}kept/2`, `${prefix}idle`]);
  try {
    // Kept alive for longer than its TTL first: a leader going by the grant's time would expire it.
    await Bun.sleep(2 * ttl * 1000);
    const idle = await leases.grant();
    await leases.putWithLease(`${prefix}idle`, idle.id);
    const ackedBeforeCut = keeper.acked;
    if (cut === "both ways") cluster.links.partition([old], others);
    else for (const id of others) cluster.links.cut(id, old);
    const probe = probeKeepalives(old, kept.id, performance.now());
    const after = await cluster.waitForLeader({ among: others, deadlineMs: 15_000, what: `a new leader among ${others.join(", ")} (${old} cut off ${cut})` });
    check(after.leaderId !== old && after.term > before.term, `a new leader in a later term: ${after.leaderId} in ${after.term}`);
    // The idle lease expires on the majority side, not before its TTL from its grant.
    leases.checkExpiry("the idle lease", await watcher.waitGone(`${prefix}idle`, 20_000), idle.sentAt);
    // The kept lease lives on: its keepalives reach the new leader (the cut-off one can confirm nothing).
    const ackedAtElection = keeper.acked;
    await Bun.sleep(2 * ttl * 1000);
    check(keeper.acked > ackedAtElection, `keepalives were acknowledged after the cut (${keeper.acked - ackedBeforeCut} in all since it)`);
    check(!watcher.goneAt.has(`${prefix}kept/1`), `the kept-alive lease's key vanished during the cut (lease_not_found answers: ${keeper.notFound})`);
    cluster.checkCutBit(after.leaderId, [old]);
    const acked = await probe.stop();
    check(probe.sent >= 10, `the cut-off leader was asked for keepalives (${probe.sent} asked)`);
    check(acked.length === 0, `node ${old}, cut off from the majority, acknowledged ${acked.length} keepalives (sent ${acked.map((ms) => `${Math.round(ms)} ms`).join(", ")} after the cut)`);
    cluster.links.healAll();
    await cluster.waitForLeader({ among: cluster.ids, deadlineMs: 15_000, what: "one leader agreed on by all three after healing" });
    // Healed, the old leader's clock ran past every expiry it knew: it revokes nothing (it follows now).
    await Bun.sleep(ttl * 1000);
    check(!watcher.goneAt.has(`${prefix}kept/1`), `the kept-alive lease's key vanished after healing (lease_not_found answers: ${keeper.notFound})`);
    await keeper.stop();
    // Once the keepalives stop, both keys go together, not before the TTL from the last acknowledged one.
    leases.checkExpiry("the kept lease", await watcher.waitGone(`${prefix}kept/1`, 15_000), keeper.lastAckedSentAt);
    leases.checkExpiry("the kept lease (second key)", await watcher.waitGone(`${prefix}kept/2`, 5000), keeper.lastAckedSentAt);
    expect(keeper.notFound).toBe(0);
  } finally {
    cluster.links.healAll();
    await keeper.stop();
    await watcher.stop();
  }
  await replicasAgree(prefix);
}

test("the leader cut off both ways: keepalives go on to the new leader, no lease expires early, the replicas agree when healed", async () => {
  await cluster.explain(async () => {
    await cluster.checkProxied(1);
    await leaseAcrossCut("both ways", "lp2/");
  });
}, timeout);

test("the leader cut off one way (it sends, hears nothing): the same", async () => {
  await cluster.explain(async () => {
    await leaseAcrossCut("one way", "lp1/");
  });
}, timeout);
