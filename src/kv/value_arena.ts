import { assert } from "../shared/assert.ts";

/**
 * Chunks are addressed with this stride: a location is chunk × stride + offset, offsets stay below it. Chunks
 * are at most this big, except one holding a single larger value.
 */
const chunk_stride = 4 * 1024 * 1024;
const chunk_bytes_min = 64 * 1024;
/** Dead bytes tolerated before a compaction is considered (small maps never compact). */
const dead_bytes_min = 8 * 1024 * 1024;
const PREFIX = 4;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * ValueArena stores the map's values as UTF-8 bytes in large chunks, addressed by a number, instead of one
 * JS string each: a 100-byte value then costs ~104 bytes instead of ~230 (string cell, heap header, malloc
 * rounding), which is most of the memory of a million-key node. Each value is [u32 length][bytes].
 * Overwritten values are dead space until compact() rewrites the live ones (when dead > live: amortized O(1)).
 */
export class ValueArena {
  private chunks: Uint8Array[] = [];
  private views: DataView[] = [];
  private offset = 0;
  /** used: bytes taken by records and abandoned chunk tails; live: bytes of records still referenced. */
  private used = 0;
  private live = 0;

  put(value: string): number {
    const bytes = Buffer.byteLength(value, "utf8");
    const need = PREFIX + bytes;
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || chunk.length - this.offset < need) chunk = this.grow(need);
    const at = this.offset;
    const written = encoder.encodeInto(value, chunk.subarray(at + PREFIX, at + need)).written;
    assert(written === bytes, "kv: value encoding length");
    this.views[this.views.length - 1]!.setUint32(at, bytes, true);
    this.offset += need;
    this.used += need;
    this.live += need;
    return (this.chunks.length - 1) * chunk_stride + at;
  }

  /** bytes returns a view of the value at loc (valid until the next put or compact). */
  bytes(loc: number): Uint8Array {
    const index = Math.floor(loc / chunk_stride);
    const at = loc - index * chunk_stride;
    const length = this.views[index]!.getUint32(at, true);
    return this.chunks[index]!.subarray(at + PREFIX, at + PREFIX + length);
  }

  get(loc: number): string {
    return decoder.decode(this.bytes(loc));
  }

  /** free marks the value at loc dead (its key was overwritten or deleted). */
  free(loc: number): void {
    this.live -= PREFIX + this.bytes(loc).length;
  }

  /** wantsCompaction: more dead than live bytes, and enough of them to be worth a pass. */
  wantsCompaction(): boolean {
    const dead = this.used - this.live;
    return dead > dead_bytes_min && dead > this.live;
  }

  /** compact rewrites the live values into fresh chunks and repoints every key of `locations` at its copy. */
  compact(locations: Map<string, number>): void {
    const old = new ValueArena();
    old.chunks = this.chunks;
    old.views = this.views;
    this.chunks = [];
    this.views = [];
    this.offset = 0;
    this.used = 0;
    this.live = 0;
    for (const [key, loc] of locations) locations.set(key, this.putBytes(old.bytes(loc)));
  }

  private putBytes(value: Uint8Array): number {
    const need = PREFIX + value.length;
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || chunk.length - this.offset < need) chunk = this.grow(need);
    const at = this.offset;
    this.views[this.views.length - 1]!.setUint32(at, value.length, true);
    chunk.set(value, at + PREFIX);
    this.offset += need;
    this.used += need;
    this.live += need;
    return (this.chunks.length - 1) * chunk_stride + at;
  }

  /**
   * grow starts a new chunk (doubling from small, up to the stride) with room for `need` bytes. A value larger
   * than the stride (--max-value-bytes above 4 MiB) gets a chunk of its own, exactly its size: it starts at
   * offset 0, and the next value starts a new chunk, so offsets always stay below the stride.
   */
  private grow(need: number): Uint8Array {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined) this.used += last.length - this.offset; // the abandoned tail counts as dead
    const size = need > chunk_stride ? need : Math.min(chunk_stride, Math.max(need, chunk_bytes_min, 2 * Math.min(chunk_stride, last?.length ?? 0)));
    const chunk = new Uint8Array(size);
    this.chunks.push(chunk);
    this.views.push(new DataView(chunk.buffer));
    this.offset = 0;
    return chunk;
  }
}
