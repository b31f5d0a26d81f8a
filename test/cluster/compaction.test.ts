import { expect, test } from "bun:test";
import { checkSample, dirUsage, sampleIndexes, scaled, waitApplied, writeKeys, useSnapshotCluster } from "./support.ts";

// Issue 5: many writes with a snapshot every 1,000 entries. The log directory of every node stays bounded
// while and after writing (compaction deletes covered segments, keeping a trailing window), a node restarted
// afterwards starts from its own snapshot (snapshot_index > 0 at its first /status), and every value is intact
// (including 500 deletes and 500 overwrites made after the bulk writes: nothing removed comes back).

const snapshot_entries = 1000;
const trailing_entries = 200;
const segment_bytes = 64 * 1024;
const writes = scaled(50_000);
/** wal_bytes_max: the retained window (≤ snapshot_entries + trailing_entries entries, ~80 B each, ~100 KB) plus
 * a partly filled segment and one just rolled; 8 segments is generous yet far below the ~4 MB written. */
const wal_bytes_max = 8 * segment_bytes;
const wal_files_max = 8;
const snap_files_max = 4;

const key = (i: number) => `k${String(i).padStart(6, "0")}`;
const value = (i: number) => `value-${i}-${(i * 2654435761) % 1000003}`;
/** mutated: after the bulk writes, keys i < mutated with i % 10 == 0 are deleted and i % 10 == 1 overwritten. */
const mutated = Math.min(writes, 5000);
const deleted = (i: number) => i < mutated && i % 10 === 0;
const overwritten = (i: number) => i < mutated && i % 10 === 1;
const expected = (i: number) => (deleted(i) ? null : overwritten(i) ? `over-${i}` : value(i));
const kv = { key, value: expected };
const keys_left = writes - Math.ceil(mutated / 10);

const cluster = useSnapshotCluster("e2e-compaction", { snapshot_entries, trailing_entries, segment_bytes });

const peak = { walBytes: 0, walFiles: 0, snapFiles: 0, samples: 0 };

function sampleDisk(): void {
  for (const id of cluster.ids) {
    const usage = dirUsage(cluster.node(id).dataDir);
    peak.walBytes = Math.max(peak.walBytes, usage.walBytes);
    peak.walFiles = Math.max(peak.walFiles, usage.walFiles.length);
    peak.snapFiles = Math.max(peak.snapFiles, usage.snapFiles.length);
  }
  peak.samples++;
}

test(`${writes} writes with a snapshot every ${snapshot_entries} entries: the log stays bounded on every node`, async () => {
  await cluster.explain(async () => {
    const result = await writeKeys(cluster, {
      count: writes,
      key,
      value,
      concurrency: 32,
      deadlineMs: 110_000,
      progressEvery: Math.max(500, Math.floor(writes / 20)),
      onProgress: sampleDisk,
    });
    expect(result.acked).toBe(writes);
    // Deletes and overwrites too, so snapshots and restarts must also keep what was removed removed.
    const n = Math.ceil(mutated / 10);
    const dels = await writeKeys(cluster, { count: n, key: (j) => key(j * 10), value: () => "", del: true, concurrency: 16 });
    const overs = await writeKeys(cluster, { count: n, key: (j) => key(j * 10 + 1), value: (j) => `over-${j * 10 + 1}`, concurrency: 16 });
    expect(dels.acked + overs.acked).toBe(2 * n);
    const index = await cluster.waitConverged([1, 2, 3], 30_000);
    sampleDisk();
    const statuses = await cluster.statuses([1, 2, 3]);
    const finals = cluster.ids.map((id) => ({ id, ...dirUsage(cluster.node(id).dataDir) }));
    console.log(
      `[compaction] ${writes} writes in ${(result.elapsedMs / 1000).toFixed(1)} s (${result.perSecond}/s, ${result.retries} retries); ` +
        `applied index ${index}; peak over ${peak.samples} samples: wal ${peak.walBytes} B in ${peak.walFiles} files, ${peak.snapFiles} snapshot files; ` +
        `final: ${finals.map((f) => `n${f.id} wal ${f.walBytes} B/${f.walFiles.length} files [${f.walFiles[0]}..${f.walFiles.at(-1)}], snap ${f.snapBytes} B/${f.snapFiles.length}`).join("; ")}`,
    );
    for (const s of statuses.values()) {
      expect(s.kv_keys).toBe(keys_left);
      // Every node snapshots on its own every snapshot_entries applied entries.
      expect(s.snapshot_index).toBeGreaterThanOrEqual(index - 2 * snapshot_entries);
    }
    // Compaction really deleted segments: no node still holds the first one.
    for (const f of finals) expect(f.walFiles[0]).not.toBe("0000000000000001.seg");
    expect(peak.walBytes).toBeLessThanOrEqual(wal_bytes_max);
    expect(peak.walFiles).toBeLessThanOrEqual(wal_files_max);
    expect(peak.snapFiles).toBeLessThanOrEqual(snap_files_max);
  });
}, 150_000);

test("a follower restarted after that starts from its snapshot and serves every value", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader();
    const follower = leaderId === 1 ? 2 : 1;
    const before = await cluster.status(follower);
    expect(before).not.toBeNull();
    await cluster.stop(follower);
    await cluster.start(follower);
    // The first /status after restart, before any new write: the state came from the snapshot on disk.
    const first = await cluster.waitHttp(follower, 20_000);
    console.log(`[compaction] follower ${follower} before stop: snapshot ${before!.snapshot_index}, applied ${before!.applied_index}; first status after restart: snapshot ${first.snapshot_index}, applied ${first.applied_index}, keys ${first.kv_keys}`);
    expect(first.snapshot_index).toBeGreaterThan(0);
    expect(first.snapshot_index).toBeGreaterThanOrEqual(before!.snapshot_index);
    expect(first.applied_index).toBeGreaterThanOrEqual(first.snapshot_index);

    // Its own disk already holds everything; it must still find the leader before a linearizable read works.
    await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 20_000 });
    await cluster.waitConverged([1, 2, 3], 20_000);
    const caughtUp = await waitApplied(cluster, follower, before!.applied_index);
    expect(caughtUp.kv_keys).toBe(keys_left);
    // It was current when stopped, so the leader's retained log covers it: no snapshot from the leader needed.
    expect(caughtUp.snapshots_installed).toBe(0);
    expect(await checkSample(cluster, follower, [...sampleIndexes(writes, 2000), ...sampleIndexes(mutated, 300)], kv, "stale")).toEqual([]);
    expect(await checkSample(cluster, follower, sampleIndexes(writes, 200), kv, "linearizable")).toEqual([]);
  });
}, 60_000);

test("the leader killed with -9 and restarted also starts from its snapshot; replicas converge", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader();
    const before = await cluster.status(leaderId);
    expect(before).not.toBeNull();
    await cluster.kill9(leaderId);
    await cluster.start(leaderId);
    const first = await cluster.waitHttp(leaderId, 20_000);
    expect(first.snapshot_index).toBeGreaterThan(0);
    expect(first.applied_index).toBeGreaterThanOrEqual(first.snapshot_index);
    await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 20_000 });
    const index = await cluster.waitConverged([1, 2, 3], 30_000);
    expect(index).toBeGreaterThanOrEqual(before!.applied_index);
    const statuses = await cluster.statuses([1, 2, 3]);
    for (const s of statuses.values()) expect(s.kv_keys).toBe(keys_left);
    expect(await checkSample(cluster, leaderId, [...sampleIndexes(writes, 1000), ...sampleIndexes(mutated, 300)], kv, "stale")).toEqual([]);
  });
}, 60_000);
