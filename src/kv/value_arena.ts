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
    protected views: DataView[],
  ) {}

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
 * dropped one (overwritten past the retention, compacted) is dead space until compact() copies the live ones
 * (when dead > live: amortized O(1)).
 */
export class ValueArena extends RecordReader {
  private offset = 0;
  /** lent: chunks[0, lent) were handed to a reader() (a snapshot streaming them): never reused. */
  private lent = 0;
  /**
   * spare: full-size chunks of the arena before the last compaction that no reader holds, reused by grow().
   * A compaction copies every live record into new chunks; fresh ones cost a page fault per 4 KiB touched,
   * which was most of a compaction's time (16 KiB values, 2,000 keys: 33-72 ms per compaction, in apply).
   * Bounded by the chunks the compacted arena holds: the writes until the next compaction use about as many.
   */
  private spare: Uint8Array[] = [];
  /** used: bytes taken by records and abandoned chunk tails; live: bytes of records still referenced. */
  private used = 0;
  private live = 0;
  /** compactions: how many times compact() ran (for tests and figures). */
  compactions = 0;

  constructor() {
    super([], []);
  }

  /** liveBytes: bytes of the records still referenced (for the memory figures). */
  get liveBytes(): number {
    return this.live;
  }

  /** reader: a fixed view of the records written so far, valid whatever the arena does next. */
  reader(): RecordReader {
    this.lent = this.chunks.length; // its chunks are never reused, whatever the reader's lifetime
    return new RecordReader(this.chunks.slice(), this.views.slice());
  }

  /** spareChunks: how many chunks wait for reuse (for tests and figures). */
  get spareChunks(): number {
    return this.spare.length;
  }

  put(value: string | Uint8Array, meta: RecordMeta): number {
    const bytes = typeof value === "string" ? Buffer.byteLength(value, "utf8") : value.length;
    const at = this.reserve(meta.create, meta.mod, meta.sub, meta.version, meta.lease, meta.tombstone, meta.prev, bytes);
    const chunk = this.chunks[this.chunks.length - 1]!;
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
    source.copy(this.chunks[this.chunks.length - 1]!, (at % chunk_stride) + headerBytes(create, mod, lease), from, to);
    return at;
  }

  /** reserve writes a record's header with room for `bytes` of value after it; returns its location. */
  private reserve(create: number, mod: number, sub: number, version: number, lease: number, tombstone: boolean, prev: number, bytes: number): number {
    const header = headerBytes(create, mod, lease);
    const need = header + bytes;
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || chunk.length - this.offset < need) chunk = this.grow(need);
    const at = this.offset;
    const view = this.views[this.views.length - 1]!;
    if (!(sub >= 0 && sub <= sub_revision_mask)) assert(false, "kv arena: sub revision in range");
    if (!(version >= 0 && version <= 0xffff_ffff)) assert(false, "kv arena: version in range");
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
    this.offset += need;
    this.used += need;
    this.live += need;
    return (this.chunks.length - 1) * chunk_stride + at;
  }

  /** free marks the record at loc dead (compacted away). */
  free(loc: number): void {
    this.live -= this.recordBytes(loc);
    assert(this.live >= 0, "kv arena: live bytes never negative");
  }

  /** wantsCompaction: more dead than live bytes, and enough of them to be worth a pass. */
  wantsCompaction(): boolean {
    const dead = this.used - this.live;
    return dead > dead_bytes_min && dead > this.live;
  }

  /**
   * compact copies the live records into fresh chunks and repoints every key of `heads` at its copy. A key's
   * live records are those with mod > floor (the compacted revision) and the newest one at or below it
   * unless that is a tombstone (what compaction keeps). Readers taken before keep the old chunks.
   */
  compact(heads: KeyTable, floor: number): void {
    const old = new RecordReader(this.chunks, this.views);
    // The old chunks no reader was lent are reusable once the live records are out of them; the copy below
    // may not write into them, so it takes only what is spare from before.
    const reusable = this.chunks.slice(this.lent).filter((chunk) => chunk.length === chunk_stride);
    this.compactions++;
    this.chunks = [];
    this.views = [];
    this.lent = 0;
    this.offset = 0;
    this.used = 0;
    this.live = 0;
    const chain: number[] = [];
    heads.forEach((head, key) => {
      chain.length = 0;
      for (let loc = head; loc !== no_location; loc = old.prev(loc)) {
        if (old.mod(loc) <= floor) {
          if (!old.isTombstone(loc)) chain.push(loc);
          break;
        }
        chain.push(loc);
      }
      if (!(chain.length > 0)) assert(false, `kv arena: key ${key} has no live record`);
      let prev = no_location;
      for (let i = chain.length - 1; i >= 0; i--) {
        const meta = old.meta(chain[i]!);
        prev = this.put(old.bytes(chain[i]!), { ...meta, prev });
      }
      heads.set(key, prev);
    });
    this.spare = reusable.slice(0, Math.max(this.chunks.length, 1));
  }

  /**
   * grow starts a new chunk (doubling from small, up to the stride) with room for `need` bytes. A record larger
   * than the stride (--max-value-bytes above 4 MiB) gets a chunk of its own, exactly its size: it starts at
   * offset 0, and the next record starts a new chunk, so offsets always stay below the stride.
   */
  private grow(need: number): Uint8Array {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined) this.used += last.length - this.offset; // the abandoned tail counts as dead
    const size = need > chunk_stride ? need : Math.min(chunk_stride, Math.max(need, chunk_bytes_min, 2 * Math.min(chunk_stride, last?.length ?? 0)));
    // A spare chunk holds old bytes: only written records are ever read (every location is a record's).
    const chunk = need <= chunk_stride && this.spare.length > 0 ? this.spare.pop()! : new Uint8Array(size);
    this.chunks.push(chunk);
    this.views.push(new DataView(chunk.buffer));
    this.offset = 0;
    return chunk;
  }
}
