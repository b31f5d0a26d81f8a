/**
 * SortedSlots holds values by a numeric key in an array in key order, for queues whose keys mostly arrive rising
 * and leave mostly in order (a leader's proposals by log index, an HTTP/2 connection's streams by id): a new key
 * goes at the end, the value leaving is usually the first, and any other is found by a binary search. A value's
 * slot is cleared the moment it is deleted, so nothing that left is reachable from here.
 *
 * Why not a Map: with a set and a delete per request, the values deleted from a Map survived JSC's
 * young-generation collections (the Map is an old object written all the time; setting the value to undefined
 * before the delete did not help), so each collection kept alive every request answered since the one before:
 * ~12 cells a put on a leader at 64 connections, 20,000-43,000 cells per 20 ms on one node's gRPC endpoint, and an
 * Eden collection of 4-9 ms instead of 1-3 (BENCHMARKS.md, 2026-12-04 19:59 UTC).
 */
export class SortedSlots<T> {
  /** slots[head..]: values in increasing key order, cleared ones undefined; the first and last are values unless empty. */
  private slots: Array<T | undefined> = [];
  private head = 0;
  private count = 0;
  /** visiting: forEach calls in progress (the cleared prefix is dropped only when none is: positions stay put). */
  private visiting = 0;

  constructor(private readonly keyOf: (value: T) => number) {}

  get size(): number {
    return this.count;
  }

  get(key: number): T | undefined {
    const at = this.lowerBound(key);
    const value = this.slots[at];
    return value !== undefined && this.keyOf(value) === key ? value : undefined;
  }

  /** insert adds `value` in key order (its key is not in the table); true when it went after every other. */
  insert(value: T): boolean {
    const slots = this.slots;
    const last = slots[slots.length - 1];
    if (last === undefined || this.keyOf(last) < this.keyOf(value)) {
      slots.push(value);
      this.count++;
      return true;
    }
    slots.splice(this.lowerBound(this.keyOf(value)), 0, value);
    this.count++;
    return false;
  }

  /** delete removes the value with `key` and returns it (undefined if there is none). */
  delete(key: number): T | undefined {
    const at = this.lowerBound(key);
    const value = this.slots[at];
    if (value === undefined || this.keyOf(value) !== key) return undefined;
    this.slots[at] = undefined;
    this.count--;
    if (this.count === 0) {
      this.slots = [];
      this.head = 0;
    } else {
      const slots = this.slots;
      while (slots[this.head] === undefined) this.head++;
      while (slots[slots.length - 1] === undefined) slots.pop(); // a forEach in progress sees the same positions
      if (this.visiting === 0) this.tidy();
    }
    return value;
  }

  /** forEach visits the values in key order until `visit` returns false; `visit` may delete any of them. */
  forEach(visit: (value: T) => boolean | void): void {
    const slots = this.slots;
    this.visiting++;
    try {
      for (let at = this.head; at < slots.length; at++) {
        const value = slots[at];
        if (value !== undefined && visit(value) === false) break;
      }
    } finally {
      this.visiting--;
    }
    if (this.visiting === 0) this.tidy();
  }

  /** takeAll empties the table and returns its values in key order. */
  takeAll(): T[] {
    const values = this.slots.filter((value): value is T => value !== undefined);
    this.slots = [];
    this.head = 0;
    this.count = 0;
    return values;
  }

  /** lowerBound: the position of the first value whose key is >= `key`, or slots.length. */
  private lowerBound(key: number): number {
    const slots = this.slots;
    const first = slots[this.head];
    // The common cases: the first value (values mostly leave in order) or after the last (a new key).
    if (first === undefined || this.keyOf(first) >= key) return this.head;
    const last = slots[slots.length - 1];
    if (last !== undefined && this.keyOf(last) < key) return slots.length;
    let lo = this.head + 1;
    let hi = slots.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // A cleared slot sorts as the nearest value before it (slots[head] is one, and its key is < `key`).
      let probe = mid;
      while (slots[probe] === undefined) probe--;
      if (this.keyOf(slots[probe]!) < key) lo = mid + 1;
      else hi = probe;
    }
    return lo;
  }

  /** tidy drops the cleared prefix once it is most of the array. */
  private tidy(): void {
    if (this.head > 64 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
  }
}
