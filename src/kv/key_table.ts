import { assert } from "../shared/assert.ts";

/** The table doubles once more than this share of its slots is taken (linear probing stays short below it). */
const load_max = 0.5;
const capacity_min = 16;
const empty = -1;

/**
 * KeyTable maps a key to a number (the store's head record locations): an open-addressing hash table with
 * linear probing over typed arrays. It replaces a JS Map, whose inserts cost ~1.2 us per fresh string key in
 * Bun (1.2 s of a million-key restart, more than the rest of it together); here an insert is a hash of the key
 * (hashOf), a probe, and three array stores. Deletes shift the following run back (no tombstones), so probes
 * stay as short as the load allows. Iteration order is slot order: deterministic for the same operations, but
 * callers must not rely on it (the store's hash and its images do not).
 */
export class KeyTable {
  private keys: (string | undefined)[];
  /** slots: per slot its key's hash (empty when free) and its value, side by side: a probe touches one cache line. */
  private slots: Float64Array;
  private mask: number;
  private count = 0;
  /**
   * The last key hashed and its hash: a write looks its key up (get) and then stores it (set), and a delete
   * (has, get, set) hashes the same string several times; the second crc32 of it is what this saves.
   */
  private memoKey: string | null = null;
  private memoHash = 0;

  constructor(expected = 0) {
    let capacity = capacity_min;
    while (capacity * load_max < expected) capacity *= 2;
    this.keys = new Array<string | undefined>(capacity);
    this.slots = new Float64Array(2 * capacity).fill(empty);
    this.mask = capacity - 1;
  }

  get size(): number {
    return this.count;
  }

  private hash(key: string): number {
    if (key === this.memoKey) return this.memoHash;
    const h = hashOf(key);
    this.memoKey = key;
    this.memoHash = h;
    return h;
  }

  get(key: string): number | undefined {
    const slot = this.find(key, this.hash(key));
    return slot < 0 ? undefined : this.slots[2 * slot + 1];
  }

  has(key: string): boolean {
    return this.find(key, this.hash(key)) >= 0;
  }

  /**
   * set maps key to value and returns the key as the table holds it: for a key already present, the string
   * stored when it was first set (an equal string, but one object per key however often it is written, which
   * is what a caller keeping keys per write wants to keep instead of each request's own copy).
   */
  set(key: string, value: number): string {
    const hash = this.hash(key);
    const mask = this.mask;
    const slots = this.slots;
    let slot = hash & mask;
    for (;;) {
      const taken = slots[2 * slot]!;
      if (taken === empty) break;
      if (taken === hash && this.keys[slot] === key) {
        slots[2 * slot + 1] = value;
        return this.keys[slot]!;
      }
      slot = (slot + 1) & mask;
    }
    this.keys[slot] = key;
    slots[2 * slot] = hash;
    slots[2 * slot + 1] = value;
    this.count++;
    if (this.count > (mask + 1) * load_max) this.grow();
    return key;
  }

  /** delete removes key (false if absent), shifting back the entries of its probe run that may move. */
  delete(key: string): boolean {
    let hole = this.find(key, this.hash(key));
    if (hole < 0) return false;
    const mask = this.mask;
    const slots = this.slots;
    let slot = hole;
    for (;;) {
      slot = (slot + 1) & mask;
      const hash = slots[2 * slot]!;
      if (hash === empty) break;
      // The entry at slot may fill the hole unless its home lies cyclically in (hole, slot].
      const home = hash & mask;
      const stays = hole <= slot ? hole < home && home <= slot : hole < home || home <= slot;
      if (stays) continue;
      this.keys[hole] = this.keys[slot];
      slots[2 * hole] = hash;
      slots[2 * hole + 1] = slots[2 * slot + 1]!;
      hole = slot;
    }
    this.keys[hole] = undefined;
    slots[2 * hole] = empty;
    this.count--;
    assert(this.count >= 0, "key table: size never negative");
    return true;
  }

  /** frozenCopy: a table with the same entries that later changes to this one do not reach (two array copies). */
  frozenCopy(): KeyTable {
    const copy = new KeyTable();
    copy.keys = this.keys.slice();
    copy.slots = this.slots.slice();
    copy.mask = this.mask;
    copy.count = this.count;
    return copy;
  }

  /** forEach visits every entry once; fn may overwrite the value of the key it is given, nothing else. */
  forEach(fn: (value: number, key: string) => void): void {
    const slots = this.slots;
    for (let slot = 0; 2 * slot < slots.length; slot++) {
      if (slots[2 * slot] !== empty) fn(slots[2 * slot + 1]!, this.keys[slot]!);
    }
  }

  private find(key: string, hash: number): number {
    const mask = this.mask;
    const slots = this.slots;
    let slot = hash & mask;
    for (;;) {
      const taken = slots[2 * slot]!;
      if (taken === empty) return -1;
      if (taken === hash && this.keys[slot] === key) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const keys = this.keys;
    const old = this.slots;
    const capacity = old.length; // twice the old slot count
    this.keys = new Array<string | undefined>(capacity);
    this.slots = new Float64Array(2 * capacity).fill(empty);
    this.mask = capacity - 1;
    for (let i = 0; 2 * i < old.length; i++) {
      const hash = old[2 * i]!;
      if (hash === empty) continue;
      let slot = hash & this.mask;
      while (this.slots[2 * slot] !== empty) slot = (slot + 1) & this.mask;
      this.keys[slot] = keys[i];
      this.slots[2 * slot] = hash;
      this.slots[2 * slot + 1] = old[2 * i + 1]!;
    }
  }
}

/** short_key_units: up to this many UTF-16 units a key is hashed in JS; longer keys go to the native CRC. */
const short_key_units = 64;

/**
 * hashOf: a non-negative 30-bit hash of the key, through murmur3's finalizer so that the low bits the mask keeps
 * depend on every unit. Never `empty`. A short key (the common case) is hashed FNV-1a over its UTF-16 units in
 * JS: ~25-60 ns, where Bun.hash.crc32 of a string costs ~85-195 ns (it converts the string first), and a put
 * hashes its key twice (apply and compaction) on every node. Longer keys take the CRC of their UTF-8 bytes. Equal
 * strings have equal lengths, so they always take the same branch. Only slot order depends on the hash, and
 * nothing replicated or stored depends on slot order (see KeyTable).
 */
function hashOf(key: string): number {
  let h: number;
  if (key.length <= short_key_units) {
    h = 0x811c9dc5 | 0;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  } else {
    h = Bun.hash.crc32(key) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fff_ffff;
}
