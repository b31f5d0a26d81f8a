import type { KvResponse } from "../kv/mvcc_types.ts";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { SortedSlots } from "../shared/sorted_slots.ts";

/** Applied: the index a proposal applied at and what the state machine answered (absent for a conf change). */
export interface Applied {
  index: number;
  response?: KvResponse;
}

interface Waiter {
  index: number;
  term: number;
  deadline: number;
  /** why the deadline may come early (leadership lost), for the timeout message. */
  why: string | null;
  /** counted: a failure is counted in onFailed (application writes; conf changes are not). */
  counted: boolean;
  resolve(value: Applied): void;
  reject(error: QklzlError): void;
}

/**
 * Proposals holds the requests waiting for their log entry to be applied, keyed by index. An entry applied
 * at that index with the same term is theirs (success); with another term, theirs was overwritten (the write
 * definitely did not happen). Past the deadline the outcome is unknown: the entry may still commit.
 *
 * Waiters are kept in index order in SortedSlots, not a Map (its comment says why: a Map kept answered puts alive
 * through every young-generation collection); proposals and applies both come in index order.
 */
export class Proposals {
  private readonly waiters = new SortedSlots<Waiter>((waiter) => waiter.index);
  /**
   * inDeadlineOrder: deadlines never decrease in index order, so the sweep may stop at the first live waiter.
   * Proposals come in index order with rising deadlines, and a lost leadership caps them all alike; only an
   * insertion below a later index (after a truncation) breaks it, until the queue is empty again.
   */
  private inDeadlineOrder = true;

  /** onFailed: called once per counted waiter that is rejected (the metrics' failed proposals). */
  constructor(
    private readonly timeoutMs: number,
    private readonly onFailed: () => void = () => {},
  ) {
    assert(timeoutMs > 0, "proposals: timeout must be positive");
  }

  get size(): number {
    return this.waiters.size;
  }

  /** wait: a promise for the entry at (index, term), rejected if it is overwritten, replaced or times out. */
  wait(index: number, term: number, counted = false): Promise<Applied> {
    const stale = this.waiters.delete(index);
    if (stale !== undefined) {
      // Our earlier entry at this index was truncated (we lost and regained leadership): it never applied.
      assert(stale.term < term, `proposals: index ${index} proposed twice in term ${term}`);
      this.reject(stale, new QklzlError("not_leader", `the write was not applied: its entry at index ${index} was overwritten; retry`));
    }
    return new Promise((resolve, reject) => {
      if (this.waiters.size === 0) this.inDeadlineOrder = true;
      const waiter: Waiter = { index, term, deadline: performance.now() + this.timeoutMs, why: null, counted, resolve, reject };
      // Below a later index, whose deadline is earlier than ours: only after a truncation (rare).
      if (!this.waiters.insert(waiter)) this.inDeadlineOrder = false;
    });
  }

  /**
   * applied: the entry (index, term) was applied with `response` (the state machine's answer, null for other
   * entries); leaderHint gives the details (the leader) of an overwritten proposal's error.
   */
  applied(index: number, term: number, leaderHint: () => Record<string, unknown>, response: KvResponse | null = null): void {
    if (this.waiters.size === 0) return;
    const waiter = this.waiters.delete(index);
    if (waiter === undefined) return;
    if (waiter.term === term) {
      waiter.resolve(response === null ? { index } : { index, response });
      return;
    }
    this.reject(
      waiter,
      new QklzlError(
        "not_leader",
        `the write was not applied: leadership changed and another entry committed at index ${index}; retry`,
        leaderHint(),
      ),
    );
  }

  /** coveredBySnapshot: entries up to `index` arrived inside an installed snapshot; their fate is unknown here. */
  coveredBySnapshot(index: number): void {
    this.waiters.forEach((waiter) => {
      if (waiter.index > index) return false;
      this.waiters.delete(waiter.index);
      this.reject(waiter, timeoutError(`a snapshot up to index ${index} replaced the log on this node`));
    });
  }

  /**
   * leadershipLost: this node stopped leading. Its entries may still commit under the new leader (we then
   * apply them and answer exactly) or be overwritten (answered as not applied); if neither shows within
   * graceMs, answer "outcome unknown" then rather than at the full deadline.
   */
  leadershipLost(graceMs: number): void {
    const cap = performance.now() + graceMs;
    this.waiters.forEach((waiter) => {
      if (waiter.deadline <= cap) return;
      waiter.deadline = cap;
      waiter.why = "this node lost the leadership before the entry committed";
    });
  }

  /** sweep rejects the waiters whose deadline passed (called every tick). */
  sweep(now: number): void {
    this.waiters.forEach((waiter) => {
      if (waiter.deadline > now) return !this.inDeadlineOrder; // in deadline order nothing after it is due
      this.waiters.delete(waiter.index);
      this.reject(waiter, timeoutError(waiter.why ?? `no commit within ${this.timeoutMs} ms`));
    });
  }

  failAll(error: QklzlError): void {
    for (const waiter of this.waiters.takeAll()) this.reject(waiter, error);
  }

  private reject(waiter: Waiter, error: QklzlError): void {
    if (waiter.counted) this.onFailed();
    waiter.reject(error);
  }
}

export function timeoutError(why: string): QklzlError {
  return new QklzlError("timeout", `timed out: ${why}; the outcome of the write is unknown`);
}
