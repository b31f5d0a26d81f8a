import { assert } from "../shared/assert.ts";
import { limits } from "../shared/limits.ts";

/**
 * AutoCompaction is etcd's --auto-compaction-mode / --auto-compaction-retention:
 * - revision: keep the last `revisions` revisions; decided inside apply (MvccStore.endWrite), so every replica
 *   compacts at the same revision with no log entry; 0 keeps every revision (the history bytes budget still
 *   applies);
 * - periodic: keep at least `retentionMs` of history; time is not replicated, so the leader decides with its
 *   clock and proposes a compact entry through the log (every replica compacts at that revision).
 * Either way the history bytes budget (limits.history_bytes_max) bounds memory inside apply.
 */
export type AutoCompaction = { mode: "revision"; revisions: number } | { mode: "periodic"; retentionMs: number };

/** The default: a revision window that keeps the history of 1M × 100-byte keys within the memory budget. */
export const defaultAutoCompaction: AutoCompaction = { mode: "revision", revisions: limits.history_revisions_default };

/** applyRetention: the revision window the store enforces inside apply (0 in periodic mode: the leader decides). */
export function applyRetention(auto: AutoCompaction): number {
  return auto.mode === "revision" ? auto.revisions : 0;
}

/** periodic_interval_max_ms: as etcd, a long retention is checked every hour rather than every tenth of it. */
const periodic_interval_max_ms = 60 * 60 * 1000;
/** periodic_samples_max bounds the samples kept (one per interval, ~10 per retention window). */
const periodic_samples_max = 64;

/**
 * PeriodicRetention decides, from (time, revision) samples, the revision a leader should compact to: the
 * newest sampled revision that is at least retentionMs old (so reads of the last retentionMs keep working).
 * Pure: the caller passes the clock. Samples are taken every tenth of the retention (at most every hour).
 */
export class PeriodicRetention {
  private times: number[] = [];
  private revisions: number[] = [];
  readonly intervalMs: number;

  constructor(readonly retentionMs: number) {
    assert(Number.isSafeInteger(retentionMs) && retentionMs > 0, "auto compaction: retention is a positive duration");
    this.intervalMs = Math.max(1, Math.min(periodic_interval_max_ms, Math.floor(retentionMs / 10)));
  }

  /** observe records the store revision at nowMs (ignored within an interval of the last sample). */
  observe(nowMs: number, revision: number): void {
    const last = this.times.length - 1;
    if (last >= 0 && nowMs - this.times[last]! < this.intervalMs) return;
    if (last >= 0 && revision < this.revisions[last]!) {
      // A restore moved the store back (never below a committed revision on the whole): start over.
      this.times = [];
      this.revisions = [];
    }
    this.times.push(nowMs);
    this.revisions.push(revision);
    // Drop samples older than the newest one that is already past the retention: they can never be chosen.
    let old = 0;
    while (old + 1 < this.times.length && nowMs - this.times[old + 1]! >= this.retentionMs) old++;
    if (old > 0 || this.times.length > periodic_samples_max) {
      const drop = Math.max(old, this.times.length - periodic_samples_max);
      this.times.splice(0, drop);
      this.revisions.splice(0, drop);
    }
  }

  /** target: the revision to compact to now, or null when there is nothing old enough above `compacted`. */
  target(nowMs: number, compacted: number): number | null {
    let chosen: number | null = null;
    for (let i = 0; i < this.times.length && nowMs - this.times[i]! >= this.retentionMs; i++) chosen = this.revisions[i]!;
    return chosen !== null && chosen > compacted ? chosen : null;
  }
}
