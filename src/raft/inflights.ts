import { assert } from "../shared/assert.ts";
import type { Index } from "./types.ts";

/**
 * Inflights bounds the append messages in flight to one follower (the pipelining window).
 * Each slot holds the last index of one message; acks free every slot up to the acked index.
 */
export class Inflights {
  private readonly slots: Index[] = [];

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, "inflights capacity must be a positive integer");
  }

  add(last: Index): void {
    assert(!this.full(), "inflights: add on a full window");
    const prev = this.slots[this.slots.length - 1];
    assert(prev === undefined || last > prev, "inflights: indexes must increase");
    this.slots.push(last);
  }

  /** freeLE frees every message whose last index is ≤ index. */
  freeLE(index: Index): void {
    let n = 0;
    while (n < this.slots.length && (this.slots[n] as Index) <= index) n++;
    if (n > 0) this.slots.splice(0, n);
  }

  freeFirstOne(): void {
    this.slots.shift();
  }

  full(): boolean {
    return this.slots.length >= this.capacity;
  }

  count(): number {
    return this.slots.length;
  }

  reset(): void {
    this.slots.length = 0;
  }
}
