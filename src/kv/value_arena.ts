import { assert } from "../shared/assert.ts";
import type { KeyTable } from "./key_table.ts";

/**
 * Chunks are addressed with this stride: a location is chunk × stride + offset, offsets stay below it. Chunks
 * are at most this big, except one holding a single larger record.
 */
const chunk_stride = 4 * 1024 * 1024;
const chunk_bytes_min = 16 * 1024;
/** Dead bytes tolerated before a compaction is considered (small stores never compact). */
const dead_bytes_min = 8 * 1024 * 1024;
/**
 * What one step of an incremental compaction (tend, once per write) moves at most: whole keys until this many
 * bytes or records are copied or this many keys are visited (at least one key). A full pass at once took
 * 16-165 ms in apply with 1 KiB values (BENCHMARKS.md, 2026-12-02 19:35); a step of 64 KiB takes tens of
 * microseconds there. With small values a record's cost, not its bytes, is what counts: 64 KiB of 100-byte
 * records was ~500 of them, 0.6 ms per write, and a pass over 100,000 retained versions ran in ~225 writes
 * (~10 batches): ~110 ms of CPU on every replica at once (a pass starts at the same index everywhere), which
 * on a shared 2-core machine stalled the cluster for ~300 ms every few seconds (the 25 s benchmark's p99 of
 * 55-63 ms, BENCHMARKS.md 2026-12-03). Eight records per write (~14 µs) spread that pass over ~9,000 writes
 * (124 ms in 8,878 standalone): the dead bytes it leaves meanwhile are those writes' own (~1.1 MB of 100-byte
 * records).
 */
const step_bytes = 64 * 1024;
const step_records = 8;
const step_keys = 128;
const released = new Uint8Array(0);

/**
 * Record layout, little-endian: [f64 previous record's location, -1 for none][u32 value length]
 * [u32 flags | sub revision][f64 mod_revision][u32 version], then [f64 create_revision] unless it equals
 * mod_revision (a key's first version: most of a bulk load), [f64 lease] unless 0, then the value as UTF-8.
 * Everything after the chain pointer is the record's content, contiguous: contentBytes hashes it in one go.
 * A record costs 28-44 bytes beyond its value (28 for a first version without lease).
 */
const base_header_bytes = 28;
const tombstone_flag = 0x8000_0000;
const has_create_flag = 0x4000_0000;
const has_lease_flag = 0x2000_0000;
const sub_revision_mask = 0x0fff_ffff;
/** no_location: no previous record. */
export const no_location = -1;
/** record_header_bytes: the smallest header (see the layout), for the memory figures. */
export const record_header_bytes = base_header_bytes;

/** headerBytes: the header size of a record with these fields. */
export function headerBytes(create: number, mod: number, lease: number): number {
  return base_header_bytes + (create !== mod ? 8 : 0) + (lease !== 0 ? 8 : 0);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** RecordMeta: the fixed fields of one version of a key. */
export interface RecordMeta {
  create: number;
  mod: number;
  sub: number;
  version: number;
  lease: number;
  tombstone: boolean;
  prev: number;
}

/**
 * RecordReader reads records by location from a fixed list of chunks. Records are immutable once written, so
 * a reader taken at some moment (arena.reader()) stays valid while the arena appends and even compacts (it
 * keeps the old chunks alive): a snapshot streams from one without copy-on-write.
 */
export class RecordReader {
  constructor(
    protected chunks: Uint8Array[],
    /** views[i] is undefined where chunk i was released (an incremental compaction emptied it). */
    protected views: (DataView | undefined)[],
  ) {}

  /** chunkList: the chunks this reader reads (released slots empty). */
  chunkList(): Uint8Array[] {
    return this.chunks;
  }

  private view(loc: number): DataView {
    const view = this.views[Math.floor(loc / chunk_stride)];
    if (view === undefined || loc < 0) assert(false, `kv arena: no record at ${loc}`);
    return view;
  }

  meta(loc: number): RecordMeta {
    const view = this.view(loc);
    const at = loc % chunk_stride;
    const word = view.getUint32(at + 12, true);
    const mod = view.getFloat64(at + 16, true);
    const create = (word & has_create_flag) !== 0 ? view.getFloat64(at + base_header_bytes, true) : mod;
    const leaseAt = at + base_header_bytes + ((word & has_create_flag) !== 0 ? 8 : 0);
    return {
      prev: view.getFloat64(at, true),
      sub: word & sub_revision_mask,
      tombstone: (word & tombstone_flag) !== 0,
      create,
      mod,
      version: view.getUint32(at + 24, true),
      lease: (word & has_lease_flag) !== 0 ? view.getFloat64(leaseAt, true) : 0,
    };
  }

  mod(loc: number): number {
    return this.view(loc).getFloat64((loc % chunk_stride) + 16, true);
  }

  prev(loc: number): number {
    return this.view(loc).getFloat64(loc % chunk_stride, true);
  }

  isTombstone(loc: number): boolean {
    return (this.view(loc).getUint32((loc % chunk_stride) + 12, true) & tombstone_flag) !== 0;
  }

  /** header: the header size of the record at loc. */
  private header(view: DataView, at: number): number {
    const word = view.getUint32(at + 12, true);
    return base_header_bytes + ((word & has_create_flag) !== 0 ? 8 : 0) + ((word & has_lease_flag) !== 0 ? 8 : 0);
  }

  /** bytes returns a view of the record's value (valid as long as this reader). */
  bytes(loc: number): Uint8Array {
    const view = this.view(loc);
    const at = loc % chunk_stride;
    const start = at + this.header(view, at);
    return this.chunks[Math.floor(loc / chunk_stride)]!.subarray(start, start + view.getUint32(at + 8, true));
  }

  /** contentBytes: the record without its chain pointer (length, flags, revisions, version, lease, value). */
  contentBytes(loc: number): Uint8Array {
    const view = this.view(loc);
    const at = loc % chunk_stride;
    const end = at + this.header(view, at) + view.getUint32(at + 8, true);
    return this.chunks[Math.floor(loc / chunk_stride)]!.subarray(at + 8, end);
  }

  /** recordBytes: the whole record's size in the arena. */
  recordBytes(loc: number): number {
    const view = this.view(loc);
    const at = loc % chunk_stride;
    return this.header(view, at) + view.getUint32(at + 8, true);
  }

  valueBytes(loc: number): number {
    return this.view(loc).getUint32((loc % chunk_stride) + 8, true);
  }

  value(loc: number): string {
    return decoder.decode(this.bytes(loc));
  }

  /** at walks a key's chain from `loc` (its newest record) to its newest record with mod <= revision. */
  at(loc: number, revision: number): number {
    while (loc !== no_location && this.mod(loc) > revision) loc = this.prev(loc);
    return loc;
  }
}

/**
 * ValueArena stores every version of every key (current and history) as records in large chunks, addressed
 * by a number, instead of JS objects and strings: a 100-byte value then costs 28-44 + 100 bytes instead of
 * ~230 for the string alone, which is most of the memory of a million-key node. Records are append-only; a
 * dropped one (overwritten past the retention, compacted) is dead space until a compaction copies the live
 * ones out (when dead > live: amortized O(1)).
 *
 * A compaction is incremental: startCompaction() marks every chunk as old and appends to new ones from then on;
 * each tend() (one per write, in apply) copies the live chains of a few keys out of the old chunks and
 * repoints their heads; when every key has been visited, the old chunks hold nothing live and are released
 * (their slots reused, their memory spare for new chunks unless a reader holds them). A key's chain is copied
 * whole, newest pointing at the copies, never patched in place: records stay immutable, so a reader taken at
 * any moment sees consistent chains. A location's slot may then hold another chunk later, but only records
 * reachable when a reader was taken are ever read through it, and those are in the chunks it was given.
 */
export class ValueArena extends RecordReader {
  /** current: the slot of the chunk being appended to (-1: none yet); offset: where its free space starts. */
  private current = -1;
  private offset = 0;
  /** freeSlots: slots whose chunk was released, reused by grow() so that locations stay small. */
  private freeSlots: number[] = [];
  /**
   * lent: chunks handed to readers (a snapshot streaming them), with how many readers hold each: never reused for
   * new records while held. releasedLent: those a compaction released meanwhile; they become spare when their
   * last reader is returned. (Lent chunks used never to come back: after a snapshot every
   * chunk then in use was lost to reuse, and the compaction after it wrote into fresh memory, a page fault per
   * 4 KiB, on every node after each of its snapshots.)
   */
  private lent = new Map<Uint8Array, number>();
  private releasedLent = new Set<Uint8Array>();
  /**
   * spare: full-size released chunks no reader holds, reused by grow(). Copying live records into fresh chunks
   * costs a page fault per 4 KiB touched, which was most of a compaction's time (16 KiB values, 2,000 keys:
   * 33-72 ms per compaction, in apply). Bounded by the chunks in use: the writes until the next compaction
   * use about as many.
   */
  private spare: Uint8Array[] = [];
  /** used: bytes taken by records and abandoned chunk tails; live: bytes of records still referenced. */
  private used = 0;
  private live = 0;
  /** pass: the compaction under way, if any. */
  private pass: CompactionPass | null = null;
  /** compactions: how many compactions started (for tests and figures). */
  compactions = 0;
  /** freshChunks: how many chunks were allocated rather than reused (for tests and figures). */
  freshChunks = 0;
  /** chain: tend's scratch list of a key's live records (reused: tend runs once per write). */
  private readonly chain: number[] = [];

  constructor() {
    super([], []);
  }

  /** liveBytes: bytes of the records still referenced (for the memory figures). */
  get liveBytes(): number {
    return this.live;
  }

  /**
   * reader: a fixed view of the records written so far, valid whatever the arena does next until it is handed
   * back with returnReader (its chunks are not reused before; a reader never returned keeps them for good).
   */
  reader(): RecordReader {
    for (const chunk of this.chunks) if (chunk !== released) this.lent.set(chunk, (this.lent.get(chunk) ?? 0) + 1);
    return new RecordReader(this.chunks.slice(), this.views.slice());
  }

  /** returnReader: the reader is no longer read (once per reader); chunks released meanwhile may be reused. */
  returnReader(reader: RecordReader): void {
    // As many spares as chunks in use at most: about what the writes until the next compaction use.
    const spareMax = Math.max(1, this.chunksInUse());
    for (const chunk of reader.chunkList()) {
      if (chunk === released) continue;
      const holders = this.lent.get(chunk);
      if (holders === undefined) assert(false, "kv arena: a reader returned twice, or not this arena's");
      if (holders > 1) {
        this.lent.set(chunk, holders - 1);
        continue;
      }
      this.lent.delete(chunk);
      if (this.releasedLent.delete(chunk) && chunk.length === chunk_stride && this.spare.length < spareMax) this.spare.push(chunk);
    }
  }

  /** chunksInUse: the slots holding a chunk (not released). */
  private chunksInUse(): number {
    let inUse = 0;
    for (const chunk of this.chunks) if (chunk !== released) inUse++;
    return inUse;
  }

  /** spareChunks: how many chunks wait for reuse (for tests and figures). */
  get spareChunks(): number {
    return this.spare.length;
  }

  /** compacting: a compaction is under way (tend() moves it on). */
  get compacting(): boolean {
    return this.pass !== null;
  }

  put(value: string | Uint8Array, meta: RecordMeta): number {
    const bytes = typeof value === "string" ? Buffer.byteLength(value, "utf8") : value.length;
    const at = this.reserve(meta.create, meta.mod, meta.sub, meta.version, meta.lease, meta.tombstone, meta.prev, bytes);
    const chunk = this.chunks[this.current]!;
    const start = (at % chunk_stride) + headerBytes(meta.create, meta.mod, meta.lease);
    if (typeof value === "string") {
      const written = encoder.encodeInto(value, chunk.subarray(start, start + bytes)).written;
      assert(written === bytes, "kv arena: value encoding length");
    } else {
      chunk.set(value, start);
    }
    return at;
  }

  /**
   * putCopy writes a record whose value is source[from, to) (a snapshot image being restored): the fields come
   * as numbers and the bytes are copied natively, so a restore allocates no object per record.
   */
  putCopy(create: number, mod: number, sub: number, version: number, lease: number, tombstone: boolean, prev: number, source: Buffer, from: number, to: number): number {
    const at = this.reserve(create, mod, sub, version, lease, tombstone, prev, to - from);
    source.copy(this.chunks[this.current]!, (at % chunk_stride) + headerBytes(create, mod, lease), from, to);
    return at;
  }

  /** reserve writes a record's header with room for `bytes` of value after it; returns its location. */
  private reserve(create: number, mod: number, sub: number, version: number, lease: number, tombstone: boolean, prev: number, bytes: number): number {
    if (!(sub >= 0 && sub <= sub_revision_mask)) assert(false, "kv arena: sub revision in range");
    if (!(version >= 0 && version <= 0xffff_ffff)) assert(false, "kv arena: version in range");
    const at = this.claim(headerBytes(create, mod, lease) + bytes);
    const view = this.views[this.current]!;
    const hasCreate = create !== mod;
    const hasLease = lease !== 0;
    const flags = (tombstone ? tombstone_flag : 0) | (hasCreate ? has_create_flag : 0) | (hasLease ? has_lease_flag : 0);
    view.setFloat64(at, prev, true);
    view.setUint32(at + 8, bytes, true);
    view.setUint32(at + 12, (sub | flags) >>> 0, true);
    view.setFloat64(at + 16, mod, true);
    view.setUint32(at + 24, version, true);
    if (hasCreate) view.setFloat64(at + base_header_bytes, create, true);
    if (hasLease) view.setFloat64(at + base_header_bytes + (hasCreate ? 8 : 0), lease, true);
    return this.current * chunk_stride + at;
  }

  /**
   * claim takes `need` bytes for one record at the end of the current chunk (a new chunk when they do not fit)
   * and counts them used and live; returns their offset in the current chunk.
   */
  private claim(need: number): number {
    const chunk = this.chunks[this.current];
    if (chunk === undefined || chunk.length - this.offset < need) this.grow(need);
    const at = this.offset;
    this.offset += need;
    this.used += need;
    this.live += need;
    return at;
  }

  /** free marks the record at loc dead (compacted away). */
  free(loc: number): void {
    const bytes = this.recordBytes(loc);
    this.live -= bytes;
    assert(this.live >= 0, "kv arena: live bytes never negative");
    const pass = this.pass;
    if (pass !== null && pass.old.has(Math.floor(loc / chunk_stride))) pass.oldLive -= bytes;
  }

  /** wantsCompaction: more dead than live bytes, and enough of them to be worth a pass (none under way). */
  wantsCompaction(): boolean {
    const dead = this.used - this.live;
    return this.pass === null && dead > dead_bytes_min && dead > this.live;
  }

  /**
   * startCompaction begins an incremental compaction over the keys of `heads` (tend() carries it out). Every
   * chunk in use becomes old; new records go to a new chunk from here on.
   */
  startCompaction(heads: KeyTable): void {
    if (this.pass !== null) return;
    this.compactions++;
    const old = new Set<number>();
    this.chunks.forEach((chunk, slot) => {
      if (chunk !== released) old.add(slot);
    });
    const keys: string[] = [];
    heads.forEach((_head, key) => keys.push(key));
    this.pass = { old, keys, next: 0, oldLive: this.live };
    if (this.current >= 0) this.grow(0);
  }

  /**
   * tend moves the compaction under way on by one step (see step_bytes, step_records): for each visited key still in
   * `heads` whose live chain (mod > floor, and the newest at or below floor unless a tombstone: what MVCC
   * compaction keeps) has a record in an old chunk, the chain is copied and its head repointed. `moved` hears
   * of every record copied (from its old location to its new one), for callers that keep locations.
   */
  tend(heads: KeyTable, floor: number, moved?: Relocated, budgetBytes = step_bytes, budgetKeys = step_keys, budgetRecords = step_records): void {
    const pass = this.pass;
    if (pass === null) return;
    const chain = this.chain;
    let copied = 0;
    let records = 0;
    let visited = 0;
    while (pass.next < pass.keys.length && (visited === 0 || (copied < budgetBytes && records < budgetRecords && visited < budgetKeys))) {
      const key = pass.keys[pass.next++]!;
      visited++;
      const head = heads.get(key);
      if (head === undefined) continue; // gone since the pass started: compaction freed its records
      chain.length = 0;
      let inOld = false;
      for (let loc = head; loc !== no_location; loc = this.prev(loc)) {
        const atOrBelowFloor = this.mod(loc) <= floor;
        if (!atOrBelowFloor || !this.isTombstone(loc)) {
          chain.push(loc);
          if (pass.old.has(Math.floor(loc / chunk_stride))) inOld = true;
        }
        if (atOrBelowFloor) break;
      }
      if (!(chain.length > 0)) assert(false, `kv arena: key ${key} has no live record`);
      if (!inOld) continue;
      let prev = no_location;
      for (let i = chain.length - 1; i >= 0; i--) {
        const loc = chain[i]!;
        const size = this.recordBytes(loc);
        prev = this.copyRecord(loc, size, prev);
        copied += size;
        records++;
        moved?.(key, loc, prev);
      }
      for (const loc of chain) this.free(loc);
      heads.set(key, prev);
    }
    if (pass.next === pass.keys.length) this.finish(pass);
  }

  /**
   * copyRecord appends a copy of the record at loc (`size` bytes), pointing at `prev`: its bytes as they are
   * (header and value), with only the chain pointer rewritten. No field is decoded and no object made: a pass
   * copies every live record, and decoding each into a RecordMeta and re-encoding it was most of a pass's time.
   */
  private copyRecord(loc: number, size: number, prev: number): number {
    const at = this.claim(size);
    const from = loc % chunk_stride;
    // The source is never the space just claimed (a record in the current chunk lies below it).
    this.chunks[this.current]!.set(this.chunks[Math.floor(loc / chunk_stride)]!.subarray(from, from + size), at);
    this.views[this.current]!.setFloat64(at, prev, true);
    return this.current * chunk_stride + at;
  }

  /** finish releases the old chunks of a pass that has visited every key: nothing live is left in them. */
  private finish(pass: CompactionPass): void {
    if (!(pass.oldLive === 0)) assert(false, `kv arena: ${pass.oldLive} live bytes left in released chunks`);
    this.pass = null;
    const inUse = this.chunksInUse();
    for (const slot of pass.old) {
      const chunk = this.chunks[slot]!;
      this.used -= chunk.length;
      if (this.lent.has(chunk)) this.releasedLent.add(chunk);
      else if (chunk.length === chunk_stride && this.spare.length < Math.max(1, inUse - pass.old.size)) this.spare.push(chunk);
      this.chunks[slot] = released;
      this.views[slot] = undefined;
      this.freeSlots.push(slot);
    }
    assert(this.used >= this.live, "kv arena: used bytes cover the live ones");
  }

  /**
   * compact runs a whole compaction at once (the one under way, else a new one): tests, and callers that want
   * the memory back now.
   */
  compact(heads: KeyTable, floor: number, moved?: Relocated): void {
    if (this.pass === null) this.startCompaction(heads);
    while (this.pass !== null) this.tend(heads, floor, moved, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  /**
   * grow starts a new chunk (doubling from small, up to the stride) with room for `need` bytes, in a released
   * slot if there is one. A record larger than the stride (--max-value-bytes above 4 MiB) gets a chunk of its
   * own, exactly its size: it starts at offset 0, and the next record starts a new chunk, so offsets always
   * stay below the stride.
   */
  private grow(need: number): void {
    const last = this.chunks[this.current];
    if (last !== undefined) this.used += last.length - this.offset; // the abandoned tail counts as dead
    const size = need > chunk_stride ? need : Math.min(chunk_stride, Math.max(need, chunk_bytes_min, 2 * Math.min(chunk_stride, last?.length ?? 0)));
    // A spare chunk holds old bytes: only written records are ever read (every location is a record's).
    const reuse = need <= chunk_stride && this.spare.length > 0;
    if (!reuse) this.freshChunks++;
    const chunk = reuse ? this.spare.pop()! : new Uint8Array(size);
    const slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.chunks.length;
    this.chunks[slot] = chunk;
    this.views[slot] = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.current = slot;
    this.offset = 0;
  }
}

/** Relocated: a record of `key` moved from one location to another (a compaction copied it). */
export type Relocated = (key: string, from: number, to: number) => void;

/** CompactionPass: an incremental compaction under way (see ValueArena). */
interface CompactionPass {
  /** old: the slots of the chunks in use when it started; released when it ends. */
  old: Set<number>;
  /** keys: the keys of the heads when it started, visited in order from `next`. */
  keys: string[];
  next: number;
  /** oldLive: live bytes still in old chunks (0 when every key has been visited). */
  oldLive: number;
}
