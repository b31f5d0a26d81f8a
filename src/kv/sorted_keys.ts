import { assert } from "../shared/assert.ts";
import { compareKeys } from "./key_order.ts";

/** A chunk splits past this many keys; insert and delete cost O(log n + chunk_keys_max). */
const chunk_keys_max = 1024;

/**
 * SortedKeys is the ordered index of the store's keys (a two-level sorted list: sorted chunks plus each
 * chunk's first key): ranges walk it from a binary search, and an insert moves at most one chunk's slots, so
 * a million keys cost ~8 MB of array slots (the strings are the map's). Order is compareKeys.
 */
export class SortedKeys {
  private chunks: string[][] = [];
  private firsts: string[] = [];
  private total = 0;

  get size(): number {
    return this.total;
  }

  /**
   * fromSorted builds the index from keys already in strictly increasing order (a snapshot's); `check`
   * false skips re-checking an order the caller has checked already (StoreBuilder, on the keys' bytes).
   */
  static fromSorted(keys: string[], check = true): SortedKeys {
    const index = new SortedKeys();
    for (let i = 0; i < keys.length; i += chunk_keys_max / 2) {
      const chunk = keys.slice(i, i + chunk_keys_max / 2);
      index.chunks.push(chunk);
      index.firsts.push(chunk[0]!);
    }
    index.total = keys.length;
    if (check) for (let i = 1; i < keys.length; i++) assert(compareKeys(keys[i - 1]!, keys[i]!) < 0, "sorted keys: input not increasing");
    return index;
  }

  /** insert adds a key that is not present. */
  insert(key: string): void {
    this.total++;
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.firsts.push(key);
      return;
    }
    const c = Math.max(0, this.chunkFor(key));
    const chunk = this.chunks[c]!;
    const at = lowerBound(chunk, key);
    if (!(chunk[at] !== key)) assert(false, `sorted keys: ${key} inserted twice`);
    chunk.splice(at, 0, key);
    this.firsts[c] = chunk[0]!;
    if (chunk.length > chunk_keys_max) {
      // Two fresh arrays: splice would leave the lower half with the grown capacity of the whole chunk.
      const lower = chunk.slice(0, chunk_keys_max / 2);
      const upper = chunk.slice(chunk_keys_max / 2);
      this.chunks[c] = lower;
      this.chunks.splice(c + 1, 0, upper);
      this.firsts.splice(c + 1, 0, upper[0]!);
    }
  }

  /** remove deletes a key that is present. */
  remove(key: string): void {
    const c = this.chunkFor(key);
    if (!(c >= 0)) assert(false, `sorted keys: ${key} is not present`);
    const chunk = this.chunks[c]!;
    const at = lowerBound(chunk, key);
    if (!(chunk[at] === key)) assert(false, `sorted keys: ${key} is not present`);
    chunk.splice(at, 1);
    this.total--;
    if (chunk.length === 0) {
      this.chunks.splice(c, 1);
      this.firsts.splice(c, 1);
    } else {
      this.firsts[c] = chunk[0]!;
    }
  }

  /** keysFrom yields the keys >= start in order (all keys when start is ""); stop early by breaking. */
  *keysFrom(start: string): Generator<string> {
    let c = Math.max(0, this.chunkFor(start));
    let at = c < this.chunks.length ? lowerBound(this.chunks[c]!, start) : 0;
    for (; c < this.chunks.length; c++, at = 0) {
      const chunk = this.chunks[c]!;
      for (; at < chunk.length; at++) yield chunk[at]!;
    }
  }

  /** all returns every key in order (a copy). */
  all(): string[] {
    return this.chunks.flat();
  }

  /** chunkFor: the last chunk whose first key is <= key (-1 when key precedes every chunk). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.firsts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.firsts[mid]!, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

/** lowerBound: the first position whose key is >= key. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
