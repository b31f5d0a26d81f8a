import type { KvResponse } from "../kv/mvcc_types.ts";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";

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
 */
export class Proposals {
  /** Insertion order is proposal order, hence deadline order: the sweep stops at the first live waiter. */
  private readonly waiters = new Map<number, Waiter>();

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
    const stale = this.waiters.get(index);
    if (stale !== undefined) {
      // Our earlier entry at this index was truncated (we lost and regained leadership): it never applied.
      assert(stale.term < term, `proposals: index ${index} proposed twice in term ${term}`);
      this.waiters.delete(index);
      this.reject(stale, new QklzlError("not_leader", `the write was not applied: its entry at index ${index} was overwritten; retry`));
    }
    return new Promise((resolve, reject) => {
      this.waiters.set(index, { index, term, deadline: performance.now() + this.timeoutMs, why: null, counted, resolve, reject });
    });
  }

  /**
   * applied: the entry (index, term) was applied with `response` (the state machine's answer, null for other
   * entries); leaderHint gives the details (the leader) of an overwritten proposal's error.
   */
  applied(index: number, term: number, leaderHint: () => Record<string, unknown>, response: KvResponse | null = null): void {
    const waiter = this.waiters.get(index);
    if (waiter === undefined) return;
    this.waiters.delete(index);
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
    for (const waiter of this.waiters.values()) {
      if (waiter.index > index) continue;
      this.waiters.delete(waiter.index);
      this.reject(waiter, timeoutError(`a snapshot up to index ${index} replaced the log on this node`));
    }
  }

  /**
   * leadershipLost: this node stopped leading. Its entries may still commit under the new leader (we then
   * apply them and answer exactly) or be overwritten (answered as not applied); if neither shows within
   * graceMs, answer "outcome unknown" then rather than at the full deadline. Deadlines keep their order.
   */
  leadershipLost(graceMs: number): void {
    const cap = performance.now() + graceMs;
    for (const waiter of this.waiters.values()) {
      if (waiter.deadline <= cap) continue;
      waiter.deadline = cap;
      waiter.why = "this node lost the leadership before the entry committed";
    }
  }

  /** sweep rejects the waiters whose deadline passed (called every tick). */
  sweep(now: number): void {
    for (const waiter of this.waiters.values()) {
      if (waiter.deadline > now) break;
      this.waiters.delete(waiter.index);
      this.reject(waiter, timeoutError(waiter.why ?? `no commit within ${this.timeoutMs} ms`));
    }
  }

  failAll(error: QklzlError): void {
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const waiter of all) this.reject(waiter, error);
  }

  private reject(waiter: Waiter, error: QklzlError): void {
    if (waiter.counted) this.onFailed();
    waiter.reject(error);
  }
}

export function timeoutError(why: string): QklzlError {
  return new QklzlError("timeout", `timed out: ${why}; the outcome of the write is unknown`);
}
