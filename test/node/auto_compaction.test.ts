import { afterEach, describe, expect, test } from "bun:test";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

describe("node: --auto-compaction-mode periodic", () => {
  test("the leader compacts history older than the retention through the log: every replica at the same revision, reads below it answer compacted, the last second kept, a restart keeps it", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3, { autoCompaction: { mode: "periodic", retentionMs: 1000 }, snapshotEntries: 100 });
    const leader = cluster.node(1);
    const started = performance.now();
    let writes = 0;
    // Keep writing for 3 s: one key overwritten (history) and a few fresh ones.
    while (performance.now() - started < 3000) {
      await leader.api.write({ op: "put", key: "k", value: `v${writes}` });
      if (writes % 10 === 0) await leader.api.write({ op: "put", key: `fresh${writes}`, value: "x" });
      writes++;
      await Bun.sleep(5);
    }
    const compacted = await waitFor("a compaction", () => {
      const s = cluster.status(1);
      return (s.kv_compact_revision ?? 0) > 0 && s.kv_compact_revision;
    });
    const revision = cluster.status(1).kv_revision!;
    // Only what was older than the retention went: the writes of the last second are still above it.
    expect(compacted).toBeLessThan(revision);
    // Once the writes stop the leader goes on compacting up to the last revision a second old: wait until every
    // replica has applied the same entries, then they agree on the compacted revision and the hash.
    await waitFor("the replicas agree", () => {
      const statuses = [1, 2, 3].map((id) => cluster.status(id));
      const same = (pick: (s: (typeof statuses)[number]) => unknown) => new Set(statuses.map(pick)).size === 1;
      return same((s) => s.applied_index) && same((s) => s.kv_compact_revision) && same((s) => s.kv_hash) && (statuses[0]!.kv_compact_revision ?? 0) >= compacted;
    });
    // Reads below the compacted revision answer compacted naming it, on every node.
    for (const id of [1, 2, 3]) {
      const floor = cluster.status(id).kv_compact_revision!;
      const error = await cluster.node(id).api.range({ key: "k", revision: floor - 1 }, "stale").then(() => null, (e: unknown) => e as { code: string; details?: Record<string, unknown> });
      expect(error?.code).toBe("compacted");
      expect(error?.details?.compact_revision as number).toBeGreaterThanOrEqual(floor);
    }
    // A restarted follower comes back with the compacted revision (snapshot + log replay).
    const before = cluster.status(2).kv_compact_revision!;
    await cluster.stop(2);
    await cluster.restart(2, { autoCompaction: { mode: "periodic", retentionMs: 1000 }, snapshotEntries: 100 });
    await waitFor("node 2 caught up", () => cluster.status(2).applied_index >= cluster.status(1).applied_index);
    expect(cluster.status(2).kv_compact_revision!).toBeGreaterThanOrEqual(before);
    expect(cluster.status(2).kv_revision).toBe(cluster.status(1).kv_revision);
  }, 60_000);

  test("the default (revision mode, 100,000 revisions) compacts nothing in a small store", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(1);
    for (let i = 0; i < 50; i++) await cluster.node(1).api.write({ op: "put", key: "k", value: `v${i}` });
    await Bun.sleep(1500);
    expect(cluster.status(1).kv_compact_revision).toBe(0);
    expect(cluster.status(1).kv_revision).toBe(51);
  }, 30_000);
});
