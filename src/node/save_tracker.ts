import { QklzlError } from "../shared/errors.ts";
import type { Storage } from "../storage/types.ts";

/**
 * SaveTracker knows which of the log's entries are on disk while the Ready loop's write runs, and who waits
 * for that write: the snapshotter must not cover an entry this node has not made durable (a follower applies
 * what the leader says is committed before its own write of it completes). Only the loop saves entries, one
 * write at a time, and tells the tracker when a write starts and ends; this file exists so that question has
 * one answer the loop and the snapshotter share, outside the loop.
 */
export class SaveTracker {
  /** savingFrom: the first index the running write replaces (Infinity when no write of entries runs). */
  private savingFrom = Infinity;
  /** waiters: callers of nextSave(), settled when a write (or a snapshot install) completes. */
  private waiters: { resolve(): void; reject(error: unknown): void }[] = [];

  constructor(
    private readonly id: number,
    private readonly storage: Storage,
    /** closed: the loop has exited or is exiting (no write will come). */
    private readonly closed: () => boolean,
    private readonly wake: () => void,
  ) {}

  /** started: the loop's write of entries from `firstIndex` on runs (Infinity: it writes only hard state). */
  started(firstIndex: number): void {
    this.savingFrom = firstIndex;
  }

  /** finished: no write of entries runs any more. */
  finished(): void {
    this.savingFrom = Infinity;
  }

  /**
   * isDurable: this node's log holds entry (index, term) on disk. Not always so for an applied entry: a
   * follower applies what the leader says is committed while its own write of it runs, or before that write
   * has even started (the entry still in the core's unstable log, not in the WAL at all).
   */
  isDurable(index: number, term: number): boolean {
    return index < this.savingFrom && this.storage.log.term(index) === term;
  }

  /** nextSave resolves once the running write (or, with none running, the next) completes; rejects once stopped. */
  nextSave(): Promise<void> {
    if (this.closed()) return Promise.reject(new QklzlError("shutting_down", `node ${this.id} is shutting down`));
    this.wake();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** settle resolves the nextSave() callers, or rejects them with `failure` (the node stopped). */
  settle(failure: Error | null): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (failure === null) w.resolve();
      else w.reject(failure);
    }
  }
}
