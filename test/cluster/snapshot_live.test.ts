import { expect, test } from "bun:test";
import { errorCode, request, waitFor } from "../../scenarios/harness.ts";
import { logFirstIndex, snapshotsTaken, scaled, waitApplied, waitCompactedPast, waitSameHash, writeKeys, useSnapshotCluster } from "./support.ts";

// Issue 5: "a snapshot that takes longer to send than the trailing window covers must still converge (the
// follower must not loop forever)". A follower far behind is restarted while writers keep writing 20 KB
// values, with a tiny trailing window (10 entries) and a snapshot every 200 entries, so the leader keeps taking
// snapshots and compacting while it streams one to the follower (asserted from its snapshots_taken metric). The
// follower must nevertheless catch up to a point the leader reached after the restart, while the writes go
// on, then match the leader's hash.

const snapshot_entries = 200;
const trailing_entries = 10;
const segment_bytes = 256 * 1024;
const value_bytes = 20_000;
const initial_keys = scaled(800);
const behind_keys = scaled(400);

const pattern = "0123456789abcdefghijklmnopqrstuvwxyz".repeat(Math.ceil((value_bytes + 64) / 36));
const value = (i: number) => `${i}:${pattern.slice(i % 36, (i % 36) + value_bytes)}`;

const cluster = useSnapshotCluster("e2e-snaplive", { snapshot_entries, trailing_entries, segment_bytes });

test("a follower catches up through snapshots while writes continue and the leader keeps compacting", async () => {
  await cluster.explain(async () => {
    const first = await writeKeys(cluster, { count: initial_keys, key: (i) => `a${i}`, value, concurrency: 8 });
    expect(first.acked).toBe(initial_keys);
    const { leaderId } = await cluster.waitForLeader();
    const follower = leaderId === 3 ? 2 : 3;
    const stoppedAt = await cluster.status(follower);
    await cluster.stop(follower);
    const behind = await writeKeys(cluster, { count: behind_keys, key: (i) => `b${i}`, value, concurrency: 8 });
    expect(behind.acked).toBe(behind_keys);
    await waitCompactedPast(cluster, leaderId, stoppedAt!.last_log_index);

    // Writers keep going through the whole catch-up.
    let stopping = false;
    let written = 0;
    let failures = 0;
    const writer = async (w: number) => {
      for (let seq = 0; !stopping; seq++) {
        const reply = await request(cluster.node(leaderId).httpAddr, "/kv", { json: { op: "put", key: `live${w}-${seq}`, value: value(seq) }, timeoutMs: 8000 });
        if (reply.status === 200) written++;
        else {
          failures++;
          if (errorCode(reply) === "not_leader") throw new Error(`leadership moved during the test: ${reply.text}`);
          await Bun.sleep(20);
        }
      }
    };
    const writers = [writer(0), writer(1), writer(2)];
    try {
      const takenBefore = await snapshotsTaken(cluster, leaderId);
      const restartedAt = performance.now();
      await cluster.start(follower);
      await cluster.waitHttp(follower);
      const leaderAtRestart = await cluster.status(leaderId);
      // Caught up to where the leader was after the restart, plus more entries written since, writes still running.
      const target = leaderAtRestart!.commit_index + 100;
      await waitFor(() => written > 0 || null, { deadlineMs: 10_000, what: "writers to make progress" });
      const caught = await waitApplied(cluster, follower, target, 60_000);
      const leaderNow = await cluster.status(leaderId);
      const takenDuring = (await snapshotsTaken(cluster, leaderId)) - takenBefore;
      console.log(
        `[snaplive] follower ${follower} restarted ${(leaderAtRestart!.commit_index - stoppedAt!.last_log_index)} entries behind; ` +
          `applied ${caught.applied_index} (leader commit ${leaderNow?.commit_index}, log from ${logFirstIndex(cluster, leaderId, leaderNow)}) ` +
          `${((performance.now() - restartedAt) / 1000).toFixed(1)} s after restart, snapshots_installed ${caught.snapshots_installed}, leader took ${takenDuring} snapshot(s) meanwhile; live writes so far ${written} (${failures} failed)`,
      );
      expect(caught.snapshots_installed).toBeGreaterThanOrEqual(1);
      expect(takenDuring).toBeGreaterThanOrEqual(1);
    } finally {
      stopping = true;
      await Promise.allSettled(writers);
    }
    for (const result of await Promise.allSettled(writers)) expect(result.status).toBe("fulfilled");
    const [mine, leaders] = await waitSameHash(cluster, follower, leaderId);
    expect(mine.kv_hash).toBe(leaders.kv_hash);
    expect(mine.kv_keys).toBe(leaders.kv_keys);
    await cluster.waitConverged([1, 2, 3]);
  });
}, 120_000);
