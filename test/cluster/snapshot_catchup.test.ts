import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cluster, fastFlags } from "../../scenarios/harness.ts";
import { checkSample, logFirstIndex, logSinceStart, sampleIndexes, scaled, waitApplied, waitCompactedPast, waitSameHash, writeKeys, keepFiles } from "./support.ts";

// Issue 5: a follower that was down while the others wrote far past it and compacted their logs can only
// catch up by an InstallSnapshot; so can a node that joins after compaction. Both must end with the leader's
// kv_hash at the same index, with every value intact.

const snapshot_entries = 1000;
const trailing_entries = 100;
/** segment_bytes: small segments (~200 entries) so that compaction, which drops whole segments, really drops. */
const segment_bytes = 16 * 1024;
const writes = scaled(20_000);
const joiner_writes = scaled(3_000);

const key = (i: number) => `c${String(i).padStart(6, "0")}`;
const value = (i: number) => `catchup-${i}-${(i * 40503) % 65521}`;
const kv = { key, value };

const cluster = new Cluster({
  name: "e2e-catchup",
  size: 4,
  extraArgs: [...fastFlags, "--snapshot-entries", String(snapshot_entries), "--trailing-entries", String(trailing_entries), "--segment-bytes", String(segment_bytes)],
});

beforeAll(async () => {
  await cluster.explain(async () => {
    // Nodes 1..3 form the cluster; node 4 joins later.
    await cluster.startFresh({ ids: [1, 2, 3] });
  });
}, 60_000);

afterAll(async () => {
  await cluster.destroy({ keepFiles: keepFiles() });
});

/** installedSnapshot: the node says it installed a snapshot from a leader, by /status or by its log. */
function installedSnapshot(snapshotsInstalled: number, log: string): boolean {
  return snapshotsInstalled >= 1 || /installed snapshot \d+/.test(log);
}

test(`a follower stopped, then ${writes} writes, then restarted catches up through InstallSnapshot`, async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const follower = leaderId === 3 ? 2 : 3;
    const stoppedAt = await cluster.status(follower);
    expect(stoppedAt).not.toBeNull();
    await cluster.stop(follower);

    const result = await writeKeys(cluster, { count: writes, key, value, concurrency: 32, deadlineMs: 90_000 });
    expect(result.acked).toBe(writes);
    // The leader's log must no longer reach back to the follower's last entry: only a snapshot can help it.
    const compacted = await waitCompactedPast(cluster, leaderId, stoppedAt!.last_log_index);

    const restartedAt = performance.now();
    await cluster.start(follower);
    await cluster.waitHttp(follower);
    const caughtUp = await waitApplied(cluster, follower, compacted.commit_index, 40_000);
    const catchUpMs = performance.now() - restartedAt;
    const [mine, leaders] = await waitSameHash(cluster, follower, leaderId);
    const log = logSinceStart(cluster, follower);
    console.log(
      `[catchup] ${writes} writes at ${result.perSecond}/s; follower ${follower} stopped at index ${stoppedAt!.last_log_index}, leader snapshot ${compacted.snapshot_index}, log from ${logFirstIndex(cluster, leaderId, compacted)}; ` +
        `caught up to ${caughtUp.applied_index} in ${catchUpMs.toFixed(0)} ms, snapshots_installed ${mine.snapshots_installed}; hash ${mine.kv_hash} at ${mine.kv_hash_index}`,
    );
    expect(installedSnapshot(mine.snapshots_installed, log)).toBe(true);
    expect(mine.kv_hash).toBe(leaders.kv_hash);
    expect(mine.kv_hash_index).toBe(leaders.kv_hash_index);
    expect(mine.kv_keys).toBe(writes);
    expect(await checkSample(cluster, follower, sampleIndexes(writes, 1000), kv, "stale")).toEqual([]);
    await cluster.waitConverged([1, 2, 3]);
  });
}, 150_000);

test("a new node joining after compaction catches up through a snapshot and becomes a voter", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const more = await writeKeys(cluster, { count: joiner_writes, key: (i) => key(writes + i), value: (i) => value(writes + i), concurrency: 32 });
    expect(more.acked).toBe(joiner_writes);
    const leader = await waitCompactedPast(cluster, leaderId, 1);

    await cluster.start(4, { join: leaderId });
    await cluster.waitHttp(4);
    await cluster.waitForVoters(leaderId, [1, 2, 3, 4], 40_000);
    await waitApplied(cluster, 4, leader.commit_index, 40_000);
    const [mine, leaders] = await waitSameHash(cluster, 4, leaderId);
    console.log(`[catchup] node 4 joined after compaction (leader snapshot ${leader.snapshot_index}, log from ${logFirstIndex(cluster, leaderId, leader)}): snapshots_installed ${mine.snapshots_installed}, keys ${mine.kv_keys}, hash ${mine.kv_hash} at ${mine.kv_hash_index}`);
    expect(installedSnapshot(mine.snapshots_installed, logSinceStart(cluster, 4))).toBe(true);
    expect(mine.kv_hash).toBe(leaders.kv_hash);
    expect(mine.kv_keys).toBe(writes + joiner_writes);
    expect(await checkSample(cluster, 4, sampleIndexes(writes + joiner_writes, 1000), kv, "stale")).toEqual([]);
    await cluster.waitConverged([1, 2, 3, 4]);
  });
}, 90_000);
