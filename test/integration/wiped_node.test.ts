import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { check, Cluster, describeReply, fastFlags, request, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Issue 10 item 4: a wiped node comes back under its old id with an empty log and no memory of its votes.
// W is committed on {1, 2} while node 3 is frozen; node 2's data dir is wiped and it starts again with -join
// (through node 3, so it is still trying to join when node 3 wakes up); node 1 dies. Node 3, behind, must not
// win an election with the wiped node's vote: that would lose W. The wiped node is not that member any more
// (another incarnation): its connections are refused, its join is refused with 409 incarnation_mismatch, and
// the documented remedy (`qklzl leave 2`, then -join again) makes it a voter with the data.

const cluster = new Cluster({ name: "it-wiped", extraArgs: fastFlags });
const timeout = 90_000;

formedForThisFile(cluster, { timeoutMs: timeout });

/** leadersSeen polls the running nodes for `durationMs` and returns the ids that claimed leadership. */
async function leadersSeen(durationMs: number): Promise<Set<number>> {
  const seen = new Set<number>();
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    for (const s of (await cluster.statuses(cluster.running())).values()) if (s.is_leader) seen.add(s.id);
    await Bun.sleep(50);
  }
  return seen;
}

test("a wiped node restarted with -join never counts as the voter it was: W survives, node 3 is not elected with its vote", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    check(leaderId === 1, `node 1 leads a freshly formed cluster (got ${leaderId})`);
    cluster.pause(3);
    const w = await cluster.put(1, "W", "committed on 1 and 2", 8000);
    check(w.status === 200, `W committed on nodes 1 and 2 while node 3 is frozen: ${describeReply(w)}`);

    await cluster.kill9(2);
    rmSync(cluster.node(2).dataDir, { recursive: true, force: true });
    await cluster.start(2, { join: 3 });
    await cluster.waitHttp(2);
    await cluster.kill9(1);
    cluster.resume(3);

    // Many election timeouts (500-1000 ms): with node 1 down and node 2 wiped, node 3 has no quorum.
    const seen = await leadersSeen(5000);
    check(!seen.has(3), `node 3 (behind, without W) was elected with the wiped node 2's vote: leaders seen ${[...seen].join(",")}`);

    await cluster.start(1);
    await cluster.waitHttp(1);
    const view = await cluster.waitForLeader({ among: [1, 3], deadlineMs: 20_000 });
    const read = await waitFor(async () => {
      const reply = await cluster.get(view.leaderId, "W");
      return reply.status === 503 || reply.status === 504 ? null : reply;
    }, { deadlineMs: 10_000, what: "W to be readable on the leader" });
    check(read.status === 200 && read.json?.value === "committed on 1 and 2", `W after the restart of node 1: ${describeReply(read)}`);

    // The wiped node's join (through node 3, once it knows a leader) is refused, naming the remedy; it exits.
    const proc = cluster.node(2).proc!;
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
    check(exited, "the wiped node 2 exits once its join is refused");
    expect(proc.exitCode).toBe(1);
    const log = readFileSync(cluster.node(2).logPath, "utf8");
    expect(log).toContain("incarnation_mismatch");
    expect(log).toContain("qklzl leave 2");
  });
}, timeout);

test("the remedy: `qklzl leave 2`, then node 2 starts again with -join and ends a voter holding W", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 3], deadlineMs: 20_000 });
    // A wiped node is refused even when it joins through the leader: 409 incarnation_mismatch.
    const direct = await request(cluster.node(leaderId).httpAddr, "/join", {
      json: { id: 2, raft_addr: cluster.node(2).raftAddr, http_addr: cluster.node(2).httpAddr, incarnation: "another-life", fresh: true },
    });
    check(direct.status === 409 && direct.json?.error === "incarnation_mismatch", `POST /join of another incarnation: ${describeReply(direct)}`);

    const leave = await waitFor(async () => {
      const view = await cluster.waitForLeader({ among: [1, 3], deadlineMs: 10_000 });
      const reply = await request(cluster.node(view.leaderId).httpAddr, "/leave", { json: { id: 2 }, timeoutMs: 10_000 });
      return reply.status === 200 ? reply : null;
    }, { deadlineMs: 20_000, what: "POST /leave {id: 2} to be accepted" });
    check(leave.status === 200, describeReply(leave));

    await cluster.start(2, { join: leaderId });
    await cluster.waitHttp(2);
    await cluster.waitForVoters(leaderId, [1, 2, 3], 30_000);
    await cluster.waitForVoters(2, [1, 2, 3], 30_000);
    const read = await cluster.get(2, "W");
    check(read.status === 200 && read.json?.value === "committed on 1 and 2", `W on the rejoined node 2: ${describeReply(read)}`);
  });
}, timeout);

test("deleting only wal/ and snap/ (meta.json kept) is a wipe too: the join is refused until `leave`", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 20_000 });
    const victim = leaderId === 2 ? 3 : 2;
    await cluster.kill9(victim);
    for (const sub of ["wal", "snap"]) rmSync(`${cluster.node(victim).dataDir}/${sub}`, { recursive: true, force: true });
    const via = leaderId === victim ? 1 : leaderId;
    await cluster.start(victim, { join: via });
    const proc = cluster.node(victim).proc!;
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(20_000).then(() => false)]);
    check(exited, `node ${victim} with its log deleted exits once its join is refused`);
    expect(proc.exitCode).toBe(1);
    const log = readFileSync(cluster.node(victim).logPath, "utf8");
    expect(log.slice(log.lastIndexOf("=== harness: start"))).toContain("incarnation_mismatch");

    const leave = await request(cluster.node(via).httpAddr, "/leave", { json: { id: victim }, timeoutMs: 10_000 });
    check(leave.status === 200, `POST /leave {id: ${victim}}: ${describeReply(leave)}`);
    await cluster.start(victim, { join: via });
    await cluster.waitHttp(victim);
    await cluster.waitForVoters(via, [1, 2, 3], 30_000);
    const read = await cluster.get(victim, "W");
    check(read.status === 200 && read.json?.value === "committed on 1 and 2", `W on node ${victim}: ${describeReply(read)}`);
  });
}, timeout);
