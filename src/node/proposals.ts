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
 *
 * Kept in an array in index order (proposals come in index order, and entries apply in index order, so the
 * waiter applied is almost always the first), not a Map: with a set and a delete per put, the values deleted from
 * a Map survived JSC's young-generation collections (the Map is an old object written on every put; setting the
 * value to undefined before the delete did not help), so each collection kept the waiters, and the promises,
 * closures and requests they hold, of the thousands of puts answered since the one before: on a leader at 64
 * connections ~12 cells a put survived while dead, and an Eden collection took 4-9 ms instead of 2-3
 * (BENCHMARKS.md, 2026-12-04 19:59 UTC). A slot answered is cleared at once and nothing else refers to it.
 */
export class Proposals {
  /** waiters[head..]: waiting proposals in increasing index order; answered ones are cleared to undefined. */
  private waiters: Array<Waiter | undefined> = [];
  private head = 0;
  private count = 0;
  /** inDeadlineOrder: deadlines never decrease along waiters (false after an insertion below a later index). */
  private inDeadlineOrder = true;

  /** onFailed: called once per counted waiter that is rejected (the metrics' failed proposals). */
  constructor(
    private readonly timeoutMs: number,
    private readonly onFailed: () => void = () => {},
  ) {
    assert(timeoutMs > 0, "proposals: timeout must be positive");
  }

  get size(): number {
    return this.count;
  }

  /** wait: a promise for the entry at (index, term), rejected if it is overwritten, replaced or times out. */
  wait(index: number, term: number, counted = false): Promise<Applied> {
    const found = this.position(index);
    const stale = this.waiters[found];
    if (stale !== undefined && stale.index === index) {
      // Our earlier entry at this index was truncated (we lost and regained leadership): it never applied.
      assert(stale.term < term, `proposals: index ${index} proposed twice in term ${term}`);
      this.remove(found);
      this.tidy();
      this.reject(stale, new QklzlError("not_leader", `the write was not applied: its entry at index ${index} was overwritten; retry`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { index, term, deadline: performance.now() + this.timeoutMs, why: null, counted, resolve, reject };
      const at = this.position(index);
      if (at === this.waiters.length) {
        this.waiters.push(waiter);
      } else {
        // Below a later index, whose deadline is earlier than ours: only after a truncation (rare).
        this.waiters.splice(at, 0, waiter);
        this.inDeadlineOrder = false;
      }
      this.count++;
    });
  }

  /**
   * applied: the entry (index, term) was applied with `response` (the state machine's answer, null for other
   * entries); leaderHint gives the details (the leader) of an overwritten proposal's error.
   */
  applied(index: number, term: number, leaderHint: () => Record<string, unknown>, response: KvResponse | null = null): void {
    if (this.count === 0) return;
    const at = this.position(index);
    const waiter = this.waiters[at];
    if (waiter === undefined || waiter.index !== index) return;
    this.remove(at);
    this.tidy();
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
    for (let at = this.head; at < this.waiters.length; at++) {
      const waiter = this.waiters[at];
      if (waiter === undefined || waiter.index > index) continue;
      this.remove(at);
      this.reject(waiter, timeoutError(`a snapshot up to index ${index} replaced the log on this node`));
    }
    this.tidy();
  }

  /**
   * leadershipLost: this node stopped leading. Its entries may still commit under the new leader (we then
   * apply them and answer exactly) or be overwritten (answered as not applied); if neither shows within
   * graceMs, answer "outcome unknown" then rather than at the full deadline.
   */
  leadershipLost(graceMs: number): void {
    const cap = performance.now() + graceMs;
    for (let at = this.head; at < this.waiters.length; at++) {
      const waiter = this.waiters[at];
      if (waiter === undefined || waiter.deadline <= cap) continue;
      waiter.deadline = cap;
      waiter.why = "this node lost the leadership before the entry committed";
    }
  }

  /**
   * sweep rejects the waiters whose deadline passed (called every tick). Deadlines follow index order (a lost
   * leadership caps them all alike), so the sweep stops at the first live waiter, unless an insertion after a
   * truncation put a later deadline first: then it looks at every waiter until the queue empties.
   */
  sweep(now: number): void {
    for (let at = this.head; at < this.waiters.length; at++) {
      const waiter = this.waiters[at];
      if (waiter === undefined) continue;
      if (waiter.deadline > now) {
        if (this.inDeadlineOrder) break;
        continue;
      }
      this.remove(at);
      this.reject(waiter, timeoutError(waiter.why ?? `no commit within ${this.timeoutMs} ms`));
    }
    this.tidy();
  }

  failAll(error: QklzlError): void {
    const all = this.waiters.slice(this.head).filter((waiter) => waiter !== undefined);
    this.waiters = [];
    this.head = 0;
    this.count = 0;
    this.inDeadlineOrder = true;
    for (const waiter of all) this.reject(waiter, error);
  }

  /** position: where `index` is or would go in waiters[head..] (the first slot whose waiter has index >= it). */
  private position(index: number): number {
    const waiters = this.waiters;
    // The common case: the first waiting proposal (apply is in index order) or past the last (a new proposal).
    let at = this.head;
    while (at < waiters.length && waiters[at] === undefined) at++;
    if (at === waiters.length || waiters[at]!.index >= index) return at;
    const last = waiters[waiters.length - 1];
    if (last !== undefined && last.index < index) return waiters.length;
    // Binary search over the rest; cleared slots take their left neighbour's place in the order.
    let lo = at;
    let hi = waiters.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let probe = mid;
      while (probe > lo && waiters[probe] === undefined) probe--;
      if (waiters[probe] === undefined || waiters[probe]!.index < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * remove clears slot `at` (never leaving an answered waiter reachable) and moves head past the cleared prefix;
   * positions stay valid (loops over the slots call it), tidy() releases the prefix afterwards.
   */
  private remove(at: number): void {
    this.waiters[at] = undefined;
    this.count--;
    if (this.count === 0) {
      this.waiters = [];
      this.head = 0;
      this.inDeadlineOrder = true;
      return;
    }
    while (this.head < this.waiters.length && this.waiters[this.head] === undefined) this.head++;
  }

  /** tidy drops the cleared prefix once it is most of the array (called after the slots are done with). */
  private tidy(): void {
    if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters = this.waiters.slice(this.head);
      this.head = 0;
    }
  }

  private reject(waiter: Waiter, error: QklzlError): void {
    if (waiter.counted) this.onFailed();
    waiter.reject(error);
  }
}

export function timeoutError(why: string): QklzlError {
  return new QklzlError("timeout", `timed out: ${why}; the outcome of the write is unknown`);
}
