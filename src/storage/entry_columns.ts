// EntryColumns holds the retained log (MemLog's entries) as columns of numbers and chunks of bytes instead of one
// Entry object and one Uint8Array per entry. The log keeps up to ~100,000 entries between snapshots (plus the
// trailing ones): as objects that was two or three garbage-collected cells per entry (the Entry, its data view
// and often a backing store or a pinned msgpack buffer), every one of them traced by each full collection, on
// every node. Here an entry is four column slots and its bytes; Entry objects are built when read (apply,
// an append to a lagging follower), short-lived garbage that an Eden collection never has to trace. A large
// entry of a live save (held_bytes_min) keeps its own buffer instead: few of them fit between snapshots, and
// its copy was a fresh chunk's page faults on every node. Pure: no I/O.
import { assert } from "../shared/assert.ts";
import type { Entry, Index } from "../raft/types.ts";
import { entrySize } from "../raft/entry_size.ts";

/** Chunks are addressed with this stride (location = chunk id × stride + offset); a chunk is at most this big,
 * except one holding a single larger entry. */
const chunk_stride = 4 * 1024 * 1024;
const chunk_bytes_min = 64 * 1024;
const capacity_min = 64;
const kind_normal = 0;
const kind_noop = 1;
const kind_conf = 2;
/** kind_held: a normal entry whose data is its own buffer, kept as it is (push with hold). */
const kind_held = 3;
/**
 * held_bytes_min: from this size an entry pushed with `hold` keeps its own buffer instead of a copy in a chunk.
 * A copy of a large entry cost a page fault per 4 KiB of fresh chunk on every node (16 KiB values: the largest
 * copy on a follower), and an object per entry is no GC burden at these sizes: a log between snapshots holds
 * at most --snapshot-bytes of them.
 */
export const held_bytes_min = 4096;

/**
 * EntryColumns: a sequence of entries, positions 0..length-1 (the caller maps them to log indexes). Chunks are
 * append-only and never rewritten: a view handed out by entry() stays valid (and keeps its chunk alive) however
 * the columns are truncated or dropped afterwards. Bytes of truncated entries stay as dead space in their chunk
 * until the chunk is dropped with the entries before it (a truncation is rare: a leader change).
 */
export class EntryColumns {
  /** head: the slot of position 0; slots below it are dropped entries. */
  private head = 0;
  private count = 0;
  private terms = new Float64Array(capacity_min);
  /** locs: where an entry's data starts (chunk id × stride + offset); -1 for a noop or conf entry. */
  private locs = new Float64Array(capacity_min);
  private sizes = new Uint32Array(capacity_min);
  private kinds = new Uint8Array(capacity_min);
  /** confs: the rare conf entries as objects, by index. */
  private readonly confs = new Map<Index, Entry>();
  /** held: the data of kind_held entries, by index, in increasing index order (Map insertion order). */
  private readonly held = new Map<Index, Uint8Array>();
  private chunks: Uint8Array[] = [];
  /** firstChunk: the id of chunks[0] (dropped chunks keep their ids out of the locations). */
  private firstChunk = 0;
  /** offset: the next free byte of the last chunk. */
  private offset = 0;

  get length(): number {
    return this.count;
  }

  /** term of the entry at position i (0 ≤ i < length). */
  term(i: number): number {
    return this.terms[this.head + i]!;
  }

  /** size: entrySize of the entry at position i, without building it. */
  size(i: number): number {
    return this.sizes[this.head + i]!;
  }

  /** entry builds the entry at position i, which has log index `index`; its data is a view of a chunk. */
  entry(i: number, index: Index): Entry {
    const slot = this.head + i;
    const kind = this.kinds[slot];
    const term = this.terms[slot]!;
    if (kind === kind_normal) {
      const loc = this.locs[slot]!;
      const chunk = this.chunks[Math.floor(loc / chunk_stride) - this.firstChunk]!;
      const start = loc % chunk_stride;
      return { kind: "normal", index, term, data: chunk.subarray(start, start + this.sizes[slot]!) };
    }
    if (kind === kind_held) {
      const data = this.held.get(index);
      if (data === undefined) assert(false, `entry columns: held entry ${index} missing`);
      return { kind: "normal", index, term, data };
    }
    if (kind === kind_noop) return { kind: "noop", index, term };
    const conf = this.confs.get(index);
    if (conf === undefined) assert(false, `entry columns: conf entry ${index} missing`);
    return conf;
  }

  /**
   * push appends an entry (the caller has checked that its index follows); its data is copied, unless `hold`
   * and it is at least held_bytes_min long: then its buffer is kept as it is, and must never change (log
   * entries are immutable; a live save's come from the proposal or the leader's frame). Recovery copies: its
   * entries are views of a whole segment file, which a few held entries would keep alive.
   */
  push(entry: Entry, hold = false): void {
    if (this.head + this.count === this.terms.length) this.makeRoom();
    const slot = this.head + this.count;
    this.terms[slot] = entry.term;
    if (entry.kind === "normal" && hold && entry.data.length >= held_bytes_min) {
      this.kinds[slot] = kind_held;
      this.sizes[slot] = entry.data.length;
      this.locs[slot] = -1;
      this.held.set(entry.index, entry.data);
    } else if (entry.kind === "normal") {
      this.kinds[slot] = kind_normal;
      this.sizes[slot] = entry.data.length;
      this.locs[slot] = this.copyIn(entry.data);
    } else if (entry.kind === "noop") {
      this.kinds[slot] = kind_noop;
      this.sizes[slot] = 0;
      this.locs[slot] = -1;
    } else {
      this.kinds[slot] = kind_conf;
      this.sizes[slot] = entrySize(entry);
      this.locs[slot] = -1;
      this.confs.set(entry.index, entry);
    }
    this.count++;
  }

  /** truncate keeps positions [0, n); the entries after them are gone (their bytes are dead space). */
  truncate(n: number, firstIndex: Index): void {
    assert(n >= 0 && n <= this.count, "entry columns: truncate within the length");
    if (n === this.count) return;
    if (this.confs.size > 0) for (const index of [...this.confs.keys()]) if (index >= firstIndex + n) this.confs.delete(index);
    if (this.held.size > 0) for (const index of [...this.held.keys()]) if (index >= firstIndex + n) this.held.delete(index);
    this.count = n;
    if (n === 0) this.dropChunks();
  }

  /** dropFront drops positions [0, n); position n becomes 0. Chunks no remaining entry uses are let go. */
  dropFront(n: number, firstIndex: Index): void {
    assert(n >= 0 && n <= this.count, "entry columns: drop within the length");
    if (n === 0) return;
    if (this.confs.size > 0) for (const index of [...this.confs.keys()]) if (index < firstIndex + n) this.confs.delete(index);
    // In index order: stop at the first one kept (a drop touches only what it drops).
    for (const index of this.held.keys()) {
      if (index >= firstIndex + n) break;
      this.held.delete(index);
    }
    this.head += n;
    this.count -= n;
    if (this.count === 0) this.head = 0;
    this.dropChunks();
  }

  /** clear drops every entry. */
  clear(): void {
    this.head = 0;
    this.count = 0;
    this.confs.clear();
    this.held.clear();
    this.firstChunk += this.chunks.length;
    this.chunks = [];
    this.offset = 0;
  }

  /** makeRoom: slide the live slots to the front when half the arrays is dropped space, else double them. */
  private makeRoom(): void {
    const length = this.terms.length;
    if (this.head >= length / 2) {
      const from = this.head;
      const to = from + this.count;
      this.terms.copyWithin(0, from, to);
      this.locs.copyWithin(0, from, to);
      this.sizes.copyWithin(0, from, to);
      this.kinds.copyWithin(0, from, to);
      this.head = 0;
      return;
    }
    const grow = <T extends Float64Array | Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(2 * length);
      next.set(old);
      return next;
    };
    this.terms = grow(this.terms, (n) => new Float64Array(n));
    this.locs = grow(this.locs, (n) => new Float64Array(n));
    this.sizes = grow(this.sizes, (n) => new Uint32Array(n));
    this.kinds = grow(this.kinds, (n) => new Uint8Array(n));
  }

  /** copyIn stores bytes in the last chunk (a new one when they do not fit) and returns their location. */
  private copyIn(data: Uint8Array): number {
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || chunk.length - this.offset < data.length) chunk = this.grow(data.length);
    const at = this.offset;
    chunk.set(data, at);
    this.offset += data.length;
    return (this.firstChunk + this.chunks.length - 1) * chunk_stride + at;
  }

  /** grow starts a chunk (doubling from small, up to the stride) with room for `need` bytes. */
  private grow(need: number): Uint8Array {
    const last = this.chunks[this.chunks.length - 1];
    const size = need > chunk_stride ? need : Math.min(chunk_stride, Math.max(need, chunk_bytes_min, 2 * (last?.length ?? 0)));
    const chunk = new Uint8Array(size);
    this.chunks.push(chunk);
    this.offset = 0;
    return chunk;
  }

  /**
   * dropChunks lets go of the chunks before the one holding the first remaining entry's data (locations grow
   * with position: an entry written after a truncation goes to the last chunk). With no data left, every chunk.
   */
  private dropChunks(): void {
    let keepFrom = this.firstChunk + this.chunks.length;
    for (let slot = this.head; slot < this.head + this.count; slot++) {
      if (this.kinds[slot] === kind_normal) {
        keepFrom = Math.floor(this.locs[slot]! / chunk_stride);
        break;
      }
    }
    const drop = keepFrom - this.firstChunk;
    if (drop <= 0) return;
    if (drop >= this.chunks.length) {
      this.chunks = [];
      this.offset = 0;
    } else {
      this.chunks.splice(0, drop);
    }
    this.firstChunk = keepFrom;
  }
}
