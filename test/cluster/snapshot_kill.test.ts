import { expect, test } from "bun:test";
import { notYet, waitFor } from "../../scenarios/harness.ts";
import { checkSample, infoLogging, logSinceStart, snapshotFileIndexes, sampleIndexes, scaled, waitApplied, waitCompactedPast, waitSameHash, writeKeys, useSnapshotCluster } from "./support.ts";

// Issue 5: kill -9 of the receiver in the middle of a snapshot transfer, then restart: it converges. The
// snapshot is made large (~30 MB: 1,500 keys of 20 KB) so the transfer takes long enough to be cut: the test
// restarts the lagging follower, watches its log for the start of the transfer ("receiving snapshot") and
// kills it with SIGKILL before "installed snapshot" appears, up to three times; then once more right after the
// whole snapshot arrived ("received snapshot"), while it is being installed. The restarted node must start
// (no half-installed state it refuses or trips on), install a snapshot, and end with the leader's kv_hash.

const snapshot_entries = 1000;
const trailing_entries = 20;
const keys = scaled(1_500);
const value_bytes = 20_000;
const kill_attempts_max = 3;
/** segment_bytes: ~50 entries per segment, so that compaction (whole segments) really drops the old log. */
const segment_bytes = 1024 * 1024;

const pattern = Array.from({ length: value_bytes + 1024 }, (_, i) => String.fromCharCode(97 + ((i * 7 + (i >> 5)) % 26))).join("");
const key = (i: number) => `big${String(i).padStart(5, "0")}`;
const value = (i: number) => `${i}:${pattern.slice(i % 1024, (i % 1024) + value_bytes)}`;
const kv = { key, value };

const cluster = useSnapshotCluster("e2e-snapkill", { snapshot_entries, trailing_entries, segment_bytes });

const receiving = /receiving snapshot/;
const received = /received snapshot \d+/;
const installed = /installed snapshot \d+/;

test(`kill -9 of the receiver mid-way through a ~${Math.round((keys * value_bytes) / 1e6)} MB snapshot transfer, then restart: it converges`, async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader();
    const follower = leaderId === 3 ? 2 : 3;
    const stoppedAt = await cluster.status(follower);
    expect(stoppedAt).not.toBeNull();
    await cluster.stop(follower);

    const result = await writeKeys(cluster, { count: keys, key, value, concurrency: 8, deadlineMs: 90_000 });
    expect(result.acked).toBe(keys);
    const leader = await waitCompactedPast(cluster, leaderId, stoppedAt!.last_log_index);

    // Restart the follower and cut the transfer as soon as its log shows one running. A binary that prints no
    // info lines (see infoLogging) gives no such line: then the cue is the follower knowing the leader (whose
    // log cannot serve it, so a snapshot is on its way), plus a few milliseconds.
    const attempts: string[] = [];
    let cutMidway = 0;
    for (let attempt = 1; attempt <= kill_attempts_max && cutMidway === 0; attempt++) {
      await cluster.start(follower);
      const cue = await waitFor(
        async () => {
          if (!cluster.isRunning(follower)) return notYet(`node ${follower} exited: ${cluster.describeExit(follower)}`);
          if (receiving.test(logSinceStart(cluster, follower))) return { at: performance.now(), by: "'receiving snapshot'" };
          if (infoLogging(cluster, follower)) return notYet("no 'receiving snapshot' line yet");
          const s = await cluster.status(follower, 500);
          if (s === null || s.leader_id === 0) return notYet({ leader_id: s?.leader_id });
          await Bun.sleep(attempt * 10);
          return { at: performance.now(), by: "the follower knowing the leader (no info logging)" };
        },
        { deadlineMs: 30_000, intervalMs: 2, what: `follower ${follower} to start receiving a snapshot (attempt ${attempt})` },
      );
      await cluster.kill9(follower);
      const midway = !installed.test(logSinceStart(cluster, follower)) && !snapshotFileIndexes(cluster, follower).some((i) => i >= leader.snapshot_index);
      if (midway) cutMidway++;
      attempts.push(`attempt ${attempt}: killed ${(performance.now() - cue.at).toFixed(0)} ms after ${cue.by}, ${midway ? "before" : "AFTER"} the snapshot was installed`);
    }
    // Once more, later: as soon as the data is all received ("received snapshot"), i.e. while it is installed.
    if (infoLogging(cluster, follower)) {
      await cluster.start(follower);
      const receivedAt = await waitFor(
        () => {
          if (!cluster.isRunning(follower)) return notYet(`node ${follower} exited: ${cluster.describeExit(follower)}`);
          return received.test(logSinceStart(cluster, follower)) ? performance.now() : notYet("no 'received snapshot' line yet");
        },
        { deadlineMs: 30_000, intervalMs: 2, what: `follower ${follower} to receive a whole snapshot` },
      );
      await cluster.kill9(follower);
      attempts.push(
        `install kill: ${(performance.now() - receivedAt).toFixed(0)} ms after 'received snapshot', ${installed.test(logSinceStart(cluster, follower)) ? "AFTER" : "before"} 'installed snapshot'`,
      );
    } else {
      attempts.push("install kill skipped: the binary prints no info lines (built with NODE_ENV=test?)");
    }
    console.log(`[snapkill] ${keys} keys x ${value_bytes} B written at ${result.perSecond}/s; leader snapshot ${leader.snapshot_index}; ${attempts.join("; ")}`);
    expect(cutMidway).toBeGreaterThanOrEqual(1);

    // Restart for good: it must start, take a complete snapshot and converge.
    const restartedAt = performance.now();
    await cluster.start(follower);
    const first = await cluster.waitHttp(follower, 20_000);
    await waitApplied(cluster, follower, leader.commit_index, 60_000);
    const [mine, leaders] = await waitSameHash(cluster, follower, leaderId, 30_000);
    const upLine = /up: .*$/m.exec(logSinceStart(cluster, follower))?.[0] ?? "(no 'up:' line)";
    console.log(
      `[snapkill] final restart: "${upLine}"; first status snapshot ${first.snapshot_index}, applied ${first.applied_index}, log ${first.last_log_index}, keys ${first.kv_keys}; converged in ${(performance.now() - restartedAt).toFixed(0)} ms, ` +
        `snapshots_installed ${mine.snapshots_installed}, hash ${mine.kv_hash} at ${mine.kv_hash_index}`,
    );
    // What was on disk after the kills is the old state or a whole snapshot, never a part of one: a map of a
    // few keys at a low index, or (snapshot already in place) all the keys that snapshot covers.
    expect(first.kv_keys).toBeLessThanOrEqual(first.applied_index);
    if (first.snapshot_index > stoppedAt!.last_log_index) expect(first.kv_keys).toBeGreaterThanOrEqual(first.snapshot_index - stoppedAt!.last_log_index - 2);
    expect(mine.snapshots_installed >= 1 || installed.test(logSinceStart(cluster, follower)) || first.snapshot_index > stoppedAt!.last_log_index).toBe(true);
    expect(mine.kv_hash).toBe(leaders.kv_hash);
    expect(mine.kv_keys).toBe(keys);
    expect(await checkSample(cluster, follower, sampleIndexes(keys, 200), kv, "stale")).toEqual([]);
    await cluster.waitConverged([1, 2, 3]);
  });
}, 150_000);
