import { describe, expect, test } from "bun:test";
import { PeriodicRetention, applyRetention, defaultAutoCompaction } from "../../src/kv/auto_compaction.ts";
import { KvStateMachine } from "../../src/kv/index.ts";
import { limits } from "../../src/shared/limits.ts";

describe("auto compaction retention", () => {
  test("periodic: the target is the newest revision sampled at least the retention ago, never at or below the compacted one", () => {
    const r = new PeriodicRetention(10_000);
    expect(r.intervalMs).toBe(1000);
    expect(r.target(0, 0)).toBeNull();
    // One sample a second, the revision +5 each time.
    for (let t = 0; t <= 15_000; t += 500) r.observe(t, 1 + (t / 1000) * 5);
    // At 15 s the samples at 0..5 s are old enough; the newest of them is at 5 s (revision 26).
    expect(r.target(15_000, 0)).toBe(26);
    expect(r.target(15_000, 26)).toBeNull();
    expect(r.target(15_400, 20)).toBe(26);
    expect(r.target(16_000, 0)).toBe(31);
    // Nothing is old enough right after the start of sampling.
    const fresh = new PeriodicRetention(60_000);
    fresh.observe(1000, 7);
    expect(fresh.target(60_999, 0)).toBeNull();
    expect(fresh.target(61_000, 0)).toBe(7);
  });

  test("periodic: samples stay bounded whatever the uptime; a long retention samples hourly", () => {
    const r = new PeriodicRetention(1000);
    for (let t = 0; t < 1_000_000; t += 100) r.observe(t, t);
    expect((r as unknown as { times: number[] }).times.length).toBeLessThanOrEqual(64);
    expect(r.target(1_000_000, 0)).toBe(999_000);
    expect(new PeriodicRetention(24 * 3600 * 1000).intervalMs).toBe(3600 * 1000);
  });

  test("revision mode: the store keeps the window; reads below it answer compacted naming the compacted revision", () => {
    expect(applyRetention(defaultAutoCompaction)).toBe(limits.history_revisions_default);
    expect(applyRetention({ mode: "periodic", retentionMs: 1000 })).toBe(0);
    const sm = new KvStateMachine({ retentionRevisions: applyRetention({ mode: "revision", revisions: 50 }) });
    for (let i = 1; i <= 200; i++) sm.apply(i, { op: "put", key: "k", value: `v${i}` });
    // Compaction runs in batches of a tenth of the window: between 50 and 55 revisions are kept.
    expect(sm.revision).toBe(201);
    expect(sm.revision - sm.compactedRevision).toBeGreaterThanOrEqual(50);
    expect(sm.revision - sm.compactedRevision).toBeLessThan(56);
    expect(sm.range({ key: "k", revision: sm.compactedRevision }).kvs[0]!.value).toBe(`v${sm.compactedRevision - 1}`);
    let error: { code?: string; details?: Record<string, unknown> } = {};
    try {
      sm.range({ key: "k", revision: sm.compactedRevision - 1 });
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.code).toBe("compacted");
    expect(error.details?.compact_revision).toBe(sm.compactedRevision);
    // Periodic mode: apply alone never compacts by count (the leader's compact entry does).
    const periodic = new KvStateMachine({ retentionRevisions: applyRetention({ mode: "periodic", retentionMs: 1000 }) });
    for (let i = 1; i <= 200; i++) periodic.apply(i, { op: "put", key: "k", value: `v${i}` });
    expect(periodic.compactedRevision).toBe(0);
    periodic.applyRequest(201, { kind: "compact", compact: { revision: 150 } });
    expect(periodic.compactedRevision).toBe(150);
  });
});
