import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

const snapshotting = { snapshotEntries: 200, trailingEntries: 50, segmentBytes: 16 * 1024 };

function walBytes(dir: string): number {
  const wal = path.join(dir, "wal");
  return fs.readdirSync(wal).reduce((sum, f) => sum + fs.statSync(path.join(wal, f)).size, 0);
}

async function writeMany(cluster: TestCluster, leader: number, count: number, prefix: string): Promise<number> {
  let index = 0;
  const api = cluster.node(leader).api;
  // 16 writers in parallel so group commit batches them.
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        const i = next++;
        const result = await api.write({ op: "put", key: `${prefix}${i % 500}`, value: `${prefix}-${i}-${"x".repeat(40)}` });
        index = Math.max(index, result.index);
      }
    }),
  );
  return index;
}

describe("node: snapshots and compaction", () => {
  test("replicas take their automatic snapshots at different indexes (not all three at once)", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3, snapshotting);
    await writeMany(cluster, 1, 700, "p");
    await waitFor("every node snapshotted", () => [1, 2, 3].every((id) => cluster.status(id).snapshot_index > 0), 20_000);
    const indexes = [1, 2, 3].map((id) => cluster.status(id).snapshot_index);
    // Before: every replica snapshotted when 200 entries had applied since the last, i.e. at the same index.
    expect(new Set(indexes).size).toBe(3);
    // Earlier, never later: each still snapshots at least every 200 entries. A snapshot still being written when
    // the writes stopped lets more than that pass until the next applied entry starts the one it missed (one at a
    // time: a slow CI disk saw 320), so a few more writes come one by one until every replica is within bounds;
    // a replica that stopped snapshotting would only fall further behind with each of them.
    const gaps = () => [1, 2, 3].map((id) => cluster.status(id).applied_index - cluster.status(id).snapshot_index);
    for (let i = 0; i < 50 && !gaps().every((gap) => gap < 200 + 64); i++) {
      await cluster.node(1).api.write({ op: "put", key: "tick", value: String(i) });
      await Bun.sleep(50);
    }
    for (const gap of gaps()) expect(gap).toBeLessThan(200 + 64);
  });

  test("a lagging node catches up through InstallSnapshot after the leader compacted its log", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3, snapshotting);
    await cluster.stop(3);
    const last = await writeMany(cluster, 1, 3_000, "s");
    const leaderStatus = cluster.status(1);
    expect(leaderStatus.snapshot_index).toBeGreaterThan(2_000);
    // The log was compacted: the lagging node's next entry is gone from the leader's log.
    expect(walBytes(cluster.dir(1))).toBeLessThan(200 * 1024);
    await cluster.restart(3, snapshotting);
    await waitFor("node 3 caught up", () => cluster.status(3).applied_index >= last, 20_000);
    expect(cluster.status(3).snapshots_installed).toBeGreaterThanOrEqual(1);
    await waitFor("hashes agree", () => cluster.status(3).kv_hash === cluster.status(1).kv_hash && cluster.status(3).kv_hash_index === cluster.status(1).kv_hash_index);
    expect(await cluster.node(3).api.read("s499", "linearizable")).not.toBeNull();
    // And it keeps following the log after the snapshot.
    const more = await cluster.node(1).api.write({ op: "put", key: "after-snapshot", value: "1" });
    await waitFor("node 3 applies log entries after the snapshot", () => cluster.status(3).applied_index >= more.index);
    expect(await cluster.node(3).api.read("after-snapshot", "stale")).toEqual({ value: "1" });
  }, 60_000);

  test("a node joining after compaction starts from a snapshot; a restart loads the snapshot and replays the rest", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3, snapshotting);
    await writeMany(cluster, 1, 1_500, "j");
    const node4 = await cluster.start(4, { ...snapshotting, join: cluster.node(1).httpAddr });
    await waitFor("node 4 is a voter", () => cluster.status(1).members.find((m) => m.id === 4)?.role === "voter", 20_000);
    expect(node4.api.status().snapshots_installed).toBeGreaterThanOrEqual(1);
    await waitFor("node 4 hash matches", () => node4.api.status().kv_hash === cluster.status(1).kv_hash);

    const { index } = await cluster.node(2).api.snapshot();
    expect(index).toBeGreaterThan(1_500);
    const tail = await cluster.node(1).api.write({ op: "put", key: "tail", value: "t" });
    await waitFor("node 2 applied the tail", () => cluster.status(2).applied_index >= tail.index);
    const before = cluster.status(2);
    await cluster.stop(2);
    const node2 = await cluster.restart(2, snapshotting);
    const after = node2.api.status();
    // At start the map comes from the snapshot plus the log after it, without any leader.
    expect(after.snapshot_index).toBeGreaterThanOrEqual(index);
    await waitFor("node 2 replays to where it was", () => node2.api.status().applied_index >= before.applied_index);
    expect(await node2.api.read("tail", "stale")).toEqual({ value: "t" });
    await waitFor("node 2 hash matches", () => node2.api.status().kv_hash === cluster.status(1).kv_hash);
  }, 60_000);
});
