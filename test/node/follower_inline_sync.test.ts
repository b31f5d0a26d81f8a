// Who fsyncs where (issue 16, one connection): a follower's saves fsync on its event loop (its ack waits for the
// fsync anyway, and the thread-pool hop adds context switches and CPU to every put). The leader's stay on the
// thread pool, with one client too: meanwhile its loop steps the followers' acks, which commit without its own
// write (runtime.syncInline).
import { afterEach, expect, test } from "bun:test";
import type { LogStore, Storage } from "../../src/storage/types.ts";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

/** SyncModes records, for each save with entries, whether the log was last told to sync inline. */
class SyncModes {
  inline: boolean | undefined = undefined;
  saves: (boolean | undefined)[] = [];

  wrap(storage: Storage): Storage {
    const log = storage.log;
    const wrapped = new Proxy(log, {
      get: (object, key) => {
        if (key === "setInlineSync") {
          return (inline: boolean) => {
            this.inline = inline;
            object.setInlineSync?.(inline);
          };
        }
        if (key === "save") {
          return (entries: Parameters<LogStore["save"]>[0], hardState: Parameters<LogStore["save"]>[1]) => {
            if (entries.length > 0) this.saves.push(this.inline);
            return object.save(entries, hardState);
          };
        }
        const value = Reflect.get(object, key, object);
        return typeof value === "function" ? value.bind(object) : value;
      },
    });
    return new Proxy(storage, { get: (object, key) => (key === "log" ? wrapped : Reflect.get(object, key, object)) });
  }
}

test("followers fsync their appends inline; the leader on the thread pool, for one client and under concurrency", async () => {
  cluster = new TestCluster();
  const modes = new Map([1, 2, 3].map((id) => [id, new SyncModes()]));
  const first = await cluster.start(1, { bootstrap: true, wrapStorage: (s: Storage) => modes.get(1)!.wrap(s) });
  await waitFor("node 1 leads", () => cluster.status(1).is_leader);
  for (const id of [2, 3]) {
    await cluster.start(id, { join: first.httpAddr, wrapStorage: (s: Storage) => modes.get(id)!.wrap(s) });
    await waitFor(`node ${id} is a voter`, () => cluster.status(1).members.find((m) => m.id === id)?.role === "voter");
  }
  const leader = cluster.node(1).api;
  await leader.write({ op: "put", key: "warm", value: "x" });
  for (const m of modes.values()) m.saves = [];
  let last = 0;
  for (let i = 0; i < 20; i++) last = (await leader.write({ op: "put", key: `k${i}`, value: `v${i}` })).index;
  for (const id of [2, 3]) await waitFor(`node ${id} caught up`, () => cluster.status(id).applied_index >= last);
  expect(cluster.status(1).is_leader).toBe(true);
  const sequential = modes.get(1)!.saves;
  // One client: the leader's fsyncs run on the thread pool.
  expect(sequential.length).toBeGreaterThan(10);
  expect(sequential.every((inline) => inline === false)).toBe(true);
  // Many requests at once: the same.
  modes.get(1)!.saves = [];
  const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => leader.write({ op: "put", key: `c${i}`, value: `v${i}` })));
  last = Math.max(...burst.map((w) => w.index));
  expect(modes.get(1)!.saves.length).toBeGreaterThan(0);
  expect(modes.get(1)!.saves.every((inline) => inline === false)).toBe(true);
  for (const id of [2, 3]) await waitFor(`node ${id} caught up`, () => cluster.status(id).applied_index >= last);
  for (const id of [2, 3]) {
    expect(modes.get(id)!.saves.length).toBeGreaterThan(0);
    expect(modes.get(id)!.saves.every((inline) => inline === true)).toBe(true);
  }
  // What the followers acked inline is theirs: the values are there.
  expect(await cluster.node(3).api.read("k9", "stale")).toEqual({ value: "v9" });
}, 60_000);
