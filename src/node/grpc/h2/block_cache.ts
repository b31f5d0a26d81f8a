// A connection's recently decoded header blocks (the server's of requests, the bench client's of answers). gRPC peers send the same header block call after call
// (a lean client's literals, or grpc-go's indexed references once its dynamic-table entries exist); decoding and
// checking it again cost ~8 % of a linearizable range's leader CPU (BENCHMARKS.md "h51"). A block is kept only
// when decoding it left the HPACK dynamic table unchanged, and found only while the table is still unchanged
// (HpackDecoder.generation), so a hit is exactly what decoding would have given.
import type { IncomingHttpHeaders } from "node:http2";
import type { HeaderField } from "./hpack.ts";

/** block_cache_entries: blocks kept per connection (a client uses a few methods); block_bytes_max: longer ones are not kept. */
const block_cache_entries = 8;
const block_bytes_max = 512;

export interface CachedBlock {
  readonly bytes: Buffer;
  readonly generation: number;
  readonly fields: readonly HeaderField[];
  /** headers: the request headers built from `fields` and found valid (frozen: shared by every stream that sends them). */
  headers: Readonly<IncomingHttpHeaders> | null;
}

/** BlockCache: at most block_cache_entries blocks of at most block_bytes_max bytes each (the oldest replaced). */
export class BlockCache {
  private readonly entries: CachedBlock[] = [];
  private next = 0;

  find(block: Uint8Array, generation: number): CachedBlock | null {
    if (block.length > block_bytes_max) return null;
    for (const entry of this.entries) {
      if (entry.generation === generation && entry.bytes.length === block.length && entry.bytes.equals(block)) return entry;
    }
    return null;
  }

  /** add keeps a copy of `block` (the socket's buffer is reused) unless it is too long; returns the entry or null. */
  add(block: Uint8Array, generation: number, fields: readonly HeaderField[]): CachedBlock | null {
    if (block.length > block_bytes_max) return null;
    const entry: CachedBlock = { bytes: Buffer.from(block), generation, fields, headers: null };
    if (this.entries.length < block_cache_entries) this.entries.push(entry);
    else {
      this.entries[this.next] = entry;
      this.next = (this.next + 1) % block_cache_entries;
    }
    return entry;
  }
}
