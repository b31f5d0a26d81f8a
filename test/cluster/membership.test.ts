import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cluster, describeAnswers, describeReply, fastFlags, findLostWrites, startWriters, waitFor, type Writers } from "../../scenarios/harness.ts";
import { describeCli, post, runCli, startWithJoinCommand, keepFiles } from "./support.ts";

// Issue 5: grow 3 → 5 → 3 nodes under continuous writes. Node 4 joins with `-join`, node 5 with the
// `qklzl join ADDR` form through a follower; then the leader is removed with `qklzl leave` and node 4 with
// POST /leave. Each removed node shuts itself down (exit 0). Concurrent writers record every acknowledged
// write; all of them must read back afterwards.

const cluster = new Cluster({ name: "e2e-membership", size: 5, extraArgs: [...fastFlags, "--snapshot-entries", "2000", "--trailing-entries", "500"] });
let writers: Writers | null = null;

beforeAll(async () => {
  await cluster.explain(async () => {
    await cluster.startFresh({ ids: [1, 2, 3] });
  });
}, 60_000);

afterAll(async () => {
  await writers?.stop();
  await cluster.destroy({ keepFiles: keepFiles() });
});

/** progress waits until the writers got `more` acknowledgements beyond now: writes keep flowing. */
async function progress(more: number, what: string): Promise<number> {
  const log = writers!.log;
  const from = log.acked.size;
  await waitFor(() => log.acked.size >= from + more || null, { deadlineMs: 20_000, what: `${more} more acknowledged writes ${what} (answers: ${describeAnswers(log)})` });
  return log.acked.size;
}

/** waitExit waits until node `id`'s process exits by itself and returns its exit code. */
async function waitExit(id: number, deadlineMs = 20_000): Promise<number | null> {
  await waitFor(() => !cluster.isRunning(id) || null, { deadlineMs, what: `removed node ${id} to shut itself down` });
  return cluster.node(id).proc!.exitCode;
}

test("grow 3 → 5 → 3 under continuous writes (leader removed once): no acknowledged write lost", async () => {
  await cluster.explain(async () => {
    const started = performance.now();
    writers = startWriters(cluster, { writers: 4, prefix: "m" });
    const figures: string[] = [];
    figures.push(`3 voters: ${await progress(100, "with 3 voters")} acked`);

    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    await cluster.start(4, { join: leaderId });
    await cluster.waitForVoters(leaderId, [1, 2, 3, 4], 30_000);
    figures.push(`node 4 voter: ${await progress(100, "after node 4 joined")}`);

    const follower = [1, 2, 3].find((id) => id !== leaderId)!;
    await startWithJoinCommand(cluster, 5, follower);
    await cluster.waitForVoters(leaderId, [1, 2, 3, 4, 5], 30_000);
    await cluster.waitForLeader({ among: [1, 2, 3, 4, 5] });
    figures.push(`node 5 voter: ${await progress(100, "with 5 voters")}`);

    // Remove the leader with the CLI, sent to a follower (the CLI follows the leader hint).
    const leader = (await cluster.waitForLeader({ among: [1, 2, 3, 4, 5] })).leaderId;
    const via = [1, 2, 3, 4, 5].find((id) => id !== leader)!;
    const args = ["leave", String(leader), "--addr", cluster.node(via).httpAddr, "--timeout", "15000"];
    const leave = await runCli(args);
    expect(leave.code, describeCli(args, leave)).toBe(0);
    expect(await waitExit(leader)).toBe(0);
    const rest = [1, 2, 3, 4, 5].filter((id) => id !== leader);
    const next = await cluster.waitForLeader({ among: rest, deadlineMs: 20_000 });
    await cluster.waitForVoters(next.leaderId, rest, 20_000);
    figures.push(`leader ${leader} removed, node ${next.leaderId} leads: ${await progress(100, "after the leader left")}`);

    // Remove a second member with POST /leave (node 4 unless it leads now, then 5).
    const victim = next.leaderId === 4 ? 5 : 4;
    const reply = await post(cluster, next.leaderId, "/leave", { id: victim }, 15_000);
    expect(reply.status, describeReply(reply)).toBe(200);
    expect(await waitExit(victim)).toBe(0);
    const final = rest.filter((id) => id !== victim);
    const last = await cluster.waitForLeader({ among: final, deadlineMs: 20_000 });
    await cluster.waitForVoters(last.leaderId, final, 20_000);
    figures.push(`node ${victim} removed, voters ${final.join(",")}: ${await progress(100, "with 3 voters again")}`);

    const log = await writers!.stop();
    writers = null;
    await cluster.waitConverged(final, 30_000);
    const lost = await findLostWrites(cluster, log, last.leaderId);
    console.log(
      `[membership] ${((performance.now() - started) / 1000).toFixed(1)} s; ${figures.join("; ")}; acked ${log.acked.size}, unknown ${log.unknown.size}, ` +
        `refused ${log.refused}; answers ${describeAnswers(log)}; checked ${lost.checked}, lost ${lost.lost.length}`,
    );
    expect(lost.checked).toBeGreaterThanOrEqual(500);
    expect(lost.lost).toEqual([]);
    // The removed nodes stay out: the remaining members list exactly the final voters.
    for (const s of (await cluster.statuses(final)).values()) expect(s.members.map((m) => m.id).sort()).toEqual(final);
  });
}, 150_000);
