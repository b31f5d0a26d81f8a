// An on-demand snapshot on a follower whose own write is still in flight (issue 10, item 7). A follower
// applies entries the leader committed while its write of them runs, or before that write has even started
// (they are still in its core's unstable log): a snapshot taken at that applied index would cover entries this
// node's log does not hold on disk (or, for the unstarted ones, in its WAL image at all). It must wait until
// its log durably holds the snapshot's index.
import { afterEach, expect, test } from "bun:test";
import type { SnapshotMeta } from "../../src/raft/types.ts";
import type { LogStore, SnapshotStore, Storage } from "../../src/storage/types.ts";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

/**
 * SlowDisk wraps a node's storage: while `held`, every log save completes (resolves to the node) only once
 * the test releases it, like a disk whose fsync takes that long. `durable` is the last index the node was told
 * is on disk; `published` records each snapshot with the durable index at the moment it was published.
 */
class SlowDisk {
  held = false;
  durable = 0;
  readonly published: { index: number; durable: number }[] = [];
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => {};

  hold(): void {
    this.held = true;
    this.gate = new Promise((resolve) => {
      this.open = resolve;
    });
  }

  release(): void {
    this.held = false;
    this.open();
  }

  wrap(storage: Storage): Storage {
    const log = delegate<LogStore>(storage.log, {
      save: (entries, hardState) => {
        const last = entries[entries.length - 1]?.index;
        const gate = this.held ? this.gate : null;
        return storage.log.save(entries, hardState).then(async () => {
          if (gate !== null) await gate;
          if (last !== undefined) this.durable = last;
        });
      },
    });
    const record = (meta: SnapshotMeta) => this.published.push({ index: meta.index, durable: this.durable });
    const inner = storage.snapshots;
    const snapshots = delegate<SnapshotStore>(inner, {
      save: (meta, data) => {
        record(meta);
        return inner.save(meta, data);
      },
      ...(inner.saveFrom === undefined
        ? {}
        : {
            saveFrom: (meta: SnapshotMeta, produce: Parameters<NonNullable<SnapshotStore["saveFrom"]>>[1]) => {
              record(meta);
              return inner.saveFrom!(meta, produce);
            },
          }),
    });
    return delegate<Storage>(storage, { log, snapshots });
  }
}

/** delegate: `target` with some members replaced; every other method runs on target itself (its own `this`). */
function delegate<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.hasOwn(overrides, key)) return (overrides as Record<PropertyKey, unknown>)[key];
      const value = Reflect.get(object, key, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

test("POST /snapshot on a follower whose save is in flight waits until its log holds the snapshot's index on disk", async () => {
  cluster = new TestCluster();
  const disk = new SlowDisk();
  const first = await cluster.start(1, { bootstrap: true });
  await waitFor("node 1 leads", () => cluster.status(1).is_leader);
  for (const id of [2, 3]) {
    await cluster.start(id, { join: first.httpAddr, ...(id === 3 ? { wrapStorage: (s: Storage) => disk.wrap(s) } : {}) });
    await waitFor(`node ${id} is a voter`, () => cluster.status(1).members.find((m) => m.id === id)?.role === "voter");
  }
  const leader = cluster.node(1).api;
  const follower = cluster.node(3).api;
  for (let i = 0; i < 20; i++) await leader.write({ op: "put", key: `k${i}`, value: `v${i}` });
  await waitFor("node 3 caught up", () => cluster.status(3).applied_index >= cluster.status(1).commit_index);

  // Node 3's disk stalls. Nodes 1 and 2 still commit; node 3 applies what the leader's later appends say is
  // committed, beyond what its stalled write will make durable.
  disk.hold();
  let last = 0;
  for (let i = 0; i < 5; i++) last = (await leader.write({ op: "put", key: `held${i}`, value: `${i}` })).index;
  await waitFor("node 3 applied entries its disk does not hold yet", () => cluster.status(3).applied_index >= last - 1);
  expect(disk.durable).toBeLessThan(cluster.status(3).applied_index);

  const taking = follower.snapshot();
  await Bun.sleep(300);
  disk.release();
  const { index } = await taking;
  expect(index).toBeGreaterThanOrEqual(last - 1);
  expect(disk.published.length).toBeGreaterThan(0);
  for (const p of disk.published) expect(p.index).toBeLessThanOrEqual(p.durable);

  // The node carries on: it takes the rest of the log and matches the leader.
  const more = (await leader.write({ op: "put", key: "after", value: "1" })).index;
  await waitFor("node 3 applied the write after the snapshot", () => cluster.status(3).applied_index >= more);
  await waitFor("hashes agree", () => cluster.status(3).kv_hash === cluster.status(1).kv_hash && cluster.status(3).kv_hash_index === cluster.status(1).kv_hash_index);
  expect(await follower.read("held4", "stale")).toEqual({ value: "4" });
}, 60_000);

test("a snapshot waiting for a follower's write gives up (shutting_down) when the node stops meanwhile", async () => {
  cluster = new TestCluster();
  const disk = new SlowDisk();
  const first = await cluster.start(1, { bootstrap: true });
  await waitFor("node 1 leads", () => cluster.status(1).is_leader);
  for (const id of [2, 3]) {
    await cluster.start(id, { join: first.httpAddr, ...(id === 3 ? { wrapStorage: (s: Storage) => disk.wrap(s) } : {}) });
    await waitFor(`node ${id} is a voter`, () => cluster.status(1).members.find((m) => m.id === id)?.role === "voter");
  }
  const leader = cluster.node(1).api;
  await leader.write({ op: "put", key: "k", value: "v" });
  await waitFor("node 3 caught up", () => cluster.status(3).applied_index >= cluster.status(1).commit_index);
  disk.hold();
  let last = 0;
  for (let i = 0; i < 5; i++) last = (await leader.write({ op: "put", key: `held${i}`, value: `${i}` })).index;
  await waitFor("node 3 applied entries its disk does not hold yet", () => cluster.status(3).applied_index >= last - 1);
  const taking = cluster.node(3).api.snapshot();
  const outcome = taking.then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  await Bun.sleep(100);
  const stopping = cluster.stop(3);
  disk.release(); // the write in flight completes; the loop ends without another
  await stopping;
  const settled = await outcome;
  expect(settled).toMatchObject({ error: { code: "shutting_down" } });
  for (const p of disk.published) expect(p.index).toBeLessThanOrEqual(p.durable);
}, 60_000);
