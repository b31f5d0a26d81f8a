import { describe, expect, test } from "bun:test";
import { KvStateMachine } from "../../src/kv/index.ts";
import type { KvRequest, RequestOp } from "../../src/kv/mvcc_types.ts";
import { type Watch, WatchHub, type WatchLimits, type WatchMessage, type WatchSpec } from "../../src/kv/watch_hub.ts";
import { checkDelivery, FeedModel, model_keys, rng } from "./watch_model.ts";

const specs: WatchSpec[] = [
  { key: "a" },
  { key: "a/2", prev_kv: true },
  { key: "a/", range_end: "a0" },
  { key: "a/", range_end: "a0", prev_kv: true, filters: ["noput"] },
  { key: "a", range_end: "b" },
  { key: "b/1", filters: ["nodelete"] },
  { key: "\0", range_end: "\0", prev_kv: true },
  { key: "b", range_end: "\0" },
];

/** Subscriber: one logical watch that may disconnect and resume from its last revision + 1 (a new Watch). */
interface Subscriber {
  spec: WatchSpec;
  start: number;
  watch: Watch;
  received: WatchMessage[];
  lastRevision: number;
  /** speed: the chance per step that it reads; a slow one overflows its buffer. */
  speed: number;
  done: boolean;
}

function randomRequest(r: () => number, model: FeedModel, i: number): KvRequest {
  const pick = () => model_keys[Math.floor(r() * model_keys.length)]!;
  const x = r();
  if (x < 0.45) return { kind: "put", put: { key: pick(), value: `v${i}` } };
  if (x < 0.6) return { kind: "delete_range", delete_range: { key: pick() } };
  if (x < 0.67) return { kind: "delete_range", delete_range: { key: "a/", range_end: "a0" } };
  if (x < 0.95) {
    const keys = [...new Set(Array.from({ length: 1 + Math.floor(r() * 4) }, pick))];
    const success: RequestOp[] = keys.map((key, n) =>
      r() < 0.75 ? { put: { key, value: `t${i}.${n}` } } : { delete_range: { key } },
    );
    return { kind: "txn", txn: { compare: [], success, failure: [] } };
  }
  if (model.revision - 1 > model.compacted) {
    const revision = model.compacted + 1 + Math.floor(r() * (model.revision - model.compacted - 1));
    return { kind: "compact", compact: { revision } };
  }
  return { kind: "put", put: { key: pick(), value: `v${i}` } };
}

/**
 * runScenario drives a watched store (and a shadow that it sometimes restores a snapshot of, as a follower
 * installing one) with random writes, txns and compactions; subscribers start at random revisions, read at
 * random speeds with small buffers, and disconnect and resume from last + 1. Returns the first failure.
 */
async function runScenario(seed: number, makeHub: (sm: KvStateMachine, limits: WatchLimits) => WatchHub): Promise<string | null> {
  const r = rng(seed);
  const primary = new KvStateMachine({ retentionRevisions: 0 });
  const shadow = new KvStateMachine({ retentionRevisions: 0 });
  const model = new FeedModel();
  const limits: WatchLimits = {
    bufferEventsMax: 2 + Math.floor(r() * 8),
    bufferBytesMax: 400 + Math.floor(r() * 2000),
    scanEventsMax: 3 + Math.floor(r() * 30),
  };
  const hub = makeHub(primary, limits);
  const subs: Subscriber[] = [];
  let index = 0;
  let skipping = 0;

  const open = (spec: WatchSpec, startRevision: number): Watch => hub.watch({ ...spec, start_revision: startRevision });
  const read = (sub: Subscriber): boolean => {
    const { messages, more } = sub.watch.take();
    for (const m of messages) {
      sub.received.push(m);
      if (m.type !== "cancel") sub.lastRevision = Math.max(sub.lastRevision, m.revision);
      else sub.done = true;
    }
    return more || messages.length > 0;
  };

  for (let step = 0; step < 400; step++) {
    const x = r();
    if (x < 0.08 && subs.length < 12) {
      const spec = specs[Math.floor(r() * specs.length)]!;
      const y = r();
      const startRevision = y < 0.3 ? 0 : y < 0.9 ? 1 + Math.floor(r() * primary.revision) : primary.revision + 1 + Math.floor(r() * 3);
      const watch = open(spec, startRevision);
      const start = startRevision === 0 ? watch.createdRevision + 1 : startRevision;
      subs.push({ spec, start, watch, received: [], lastRevision: start - 1, speed: r() < 0.3 ? 0.05 : 0.6, done: false });
    } else if (x < 0.12 && subs.length > 0) {
      // A client goes away and comes back, resuming from the last revision it saw + 1.
      const sub = subs[Math.floor(r() * subs.length)]!;
      if (!sub.done) {
        sub.watch.cancel();
        sub.watch = open(sub.spec, sub.lastRevision + 1);
      }
    } else if (x < 0.14 && subs.length > 0) {
      subs[Math.floor(r() * subs.length)]!.watch.requestProgress();
    } else if (x < 0.16 && skipping === 0) {
      skipping = 1 + Math.floor(r() * 6);
    } else {
      const request = randomRequest(r, model, step);
      index++;
      const a = shadow.applyRequest(index, request);
      model.apply(request);
      if (skipping > 0) {
        skipping--;
        if (skipping === 0) await primary.restore((await shadow.snapshot()).data); // a follower installs a snapshot
      } else {
        const b = primary.applyRequest(index, request);
        if (JSON.stringify(a) !== JSON.stringify(b)) return `replicas disagree at ${index}`;
      }
    }
    for (const sub of subs) if (!sub.done && r() < sub.speed) read(sub);
  }
  if (skipping > 0) await primary.restore((await shadow.snapshot()).data);
  for (const sub of subs) {
    for (let n = 0; n < 10_000 && !sub.done; n++) {
      if (!read(sub)) break;
    }
    const failure = checkDelivery(model, sub.spec, sub.start, sub.received, !sub.done);
    if (failure !== null) return `seed ${seed}, watch ${JSON.stringify(sub.spec)} from ${sub.start}: ${failure}`;
  }
  return null;
}

/** StaleHandoffHub plants the classic bug: replay up to the revision of the watch's creation, then go live. */
class StaleHandoffHub extends WatchHub {
  protected override catchUpTarget(w: Watch): number {
    return w.createdRevision;
  }
}

describe("watch hub against a model", () => {
  test("every event once, in order, a txn's events together, resume from last + 1 exact (random writes, txns, compactions, snapshots, slow readers)", async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= 150; seed++) {
      const failure = await runScenario(seed, (sm, limits) => new WatchHub(sm, limits));
      if (failure !== null) failures.push(failure);
    }
    expect(failures).toEqual([]);
  });

  test("the checker catches a replay/live handoff that reads history only up to the watch's creation", async () => {
    let caught = 0;
    for (let seed = 1; seed <= 40; seed++) {
      if ((await runScenario(seed, (sm, limits) => new StaleHandoffHub(sm, limits))) !== null) caught++;
    }
    expect(caught).toBeGreaterThan(0);
  });

  test("events applied between a watch's creation and its first read are replayed before the live ones", () => {
    const sm = new KvStateMachine();
    sm.apply(1, { op: "put", key: "k", value: "1" }); // revision 2
    const hub = new WatchHub(sm);
    const watch = hub.watch({ key: "k", start_revision: 2 });
    sm.apply(2, { op: "put", key: "k", value: "2" }); // revision 3, while the watch is still replaying
    sm.apply(3, { op: "put", key: "k", value: "3" });
    expect(watch.take().messages.map((m) => m.revision)).toEqual([2, 3, 4]);
    sm.apply(4, { op: "put", key: "k", value: "4" });
    expect(watch.take().messages.map((m) => m.revision)).toEqual([5]);
    watch.cancel();
    const stale = new StaleHandoffHub(sm).watch({ key: "k", start_revision: 2 });
    sm.apply(5, { op: "put", key: "k", value: "5" });
    expect(stale.take().messages.map((m) => m.revision)).toEqual([2, 3, 4, 5]); // 6 is skipped: the planted bug
    sm.apply(6, { op: "put", key: "k", value: "6" });
    expect(stale.take().messages.map((m) => m.revision)).toEqual([7]);
  });

  test("a slow watcher is bounded: past its buffer it catches up from history, or is cancelled with compacted once that is gone", () => {
    const sm = new KvStateMachine({ retentionRevisions: 0 });
    const hub = new WatchHub(sm, { bufferEventsMax: 5, bufferBytesMax: 1 << 20, scanEventsMax: 100 });
    const slow = hub.watch({ key: "k" });
    let index = 0;
    for (let i = 0; i < 50; i++) sm.apply(++index, { op: "put", key: "k", value: `${i}` });
    const first = slow.take();
    expect(first.messages.length).toBe(5); // the buffer, not 50
    const rest: number[] = [];
    for (let more = true; more; ) {
      const t = slow.take();
      rest.push(...t.messages.map((m) => m.revision));
      more = t.more || t.messages.length > 0;
    }
    expect([...first.messages.map((m) => m.revision), ...rest]).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));

    const gone = hub.watch({ key: "k" });
    for (let i = 0; i < 20; i++) sm.apply(++index, { op: "put", key: "k", value: `${i}` });
    sm.applyRequest(++index, { kind: "compact", compact: { revision: sm.revision - 2 } });
    // The 5 it held, then the cancel: the revision it needed next is compacted.
    const seen = gone.take().messages;
    expect(seen.length).toBe(6);
    expect(seen.slice(0, 5).every((m) => m.type === "events")).toBe(true);
    expect(seen[5]).toEqual(
      expect.objectContaining({ type: "cancel", reason: "compacted", compact_revision: sm.revision - 2, revision: seen[4]!.revision }),
    );
    expect(gone.closed).toBe(true);
    expect(hub.fellBehind).toBe(3); // slow twice (it is live again and on "k" too), gone once
    expect(hub.compactedCancels).toBe(1);
  });

  test("a watch below the compacted revision is cancelled with compact_revision", () => {
    const sm = new KvStateMachine({ retentionRevisions: 0 });
    for (let i = 1; i <= 5; i++) sm.apply(i, { op: "put", key: "k", value: `${i}` });
    sm.applyRequest(6, { kind: "compact", compact: { revision: 4 } });
    const watch = new WatchHub(sm).watch({ key: "k", start_revision: 3 });
    expect(watch.take().messages).toEqual([expect.objectContaining({ type: "cancel", reason: "compacted", compact_revision: 4 })]);
    expect(new WatchHub(sm).watch({ key: "k", start_revision: 5 }).take().messages.map((m) => m.revision)).toEqual([5, 6]);
  });

  test("10,000 key watchers: a write looks up only its key's watchers, and the feed detaches when none is left", () => {
    const sm = new KvStateMachine();
    const hub = new WatchHub(sm);
    const watches = Array.from({ length: 10_000 }, (_, i) => hub.watch({ key: `w${i}` }));
    const hot = Array.from({ length: 100 }, () => hub.watch({ key: "hot/", range_end: "hot0" }));
    const started = performance.now();
    for (let i = 1; i <= 20_000; i++) sm.apply(i, { op: "put", key: `other${i % 7}`, value: "x" });
    // A scan of every watcher per write would be 2e8 checks here (seconds); the index makes it ~20k lookups.
    expect(performance.now() - started).toBeLessThan(3_000);
    sm.apply(20_001, { op: "put", key: "w42", value: "y" });
    sm.apply(20_002, { op: "put", key: "hot/1", value: "z" });
    expect(watches[42]!.take().messages.map((m) => m.revision)).toEqual([20_002]);
    expect(watches[43]!.take().messages).toEqual([]);
    expect(hot.every((w) => w.take().messages.length === 1)).toBe(true);
    for (const w of [...watches, ...hot]) w.cancel();
    expect(hub.size).toBe(0);
    expect(sm.onEvents).toBeNull();
  });

  test("progress: a header with the current revision, after every event before it", () => {
    const sm = new KvStateMachine();
    const hub = new WatchHub(sm);
    const watch = hub.watch({ key: "k" });
    sm.apply(1, { op: "put", key: "k", value: "1" });
    sm.apply(2, { op: "put", key: "other", value: "1" });
    watch.requestProgress();
    expect(watch.take().messages).toEqual([
      expect.objectContaining({ type: "events", revision: 2 }),
      { type: "progress", revision: 3 },
    ]);
  });
});
