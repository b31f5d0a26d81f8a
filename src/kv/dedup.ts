import { assert } from "../shared/assert.ts";
import { limits } from "../shared/limits.ts";

const dedup_hash_seed = 0x64656475n; // "dedu"

/**
 * DedupTable remembers the encoded result of recent writes by request id (thesis §6.3), so that a client
 * retrying after a timeout gets the original answer instead of a second application. Bounded in entries and
 * bytes; the oldest is forgotten first. It is replicated state: the same entries on every replica, in
 * snapshots, and in the hash (order-independent XOR like the store's).
 */
export class DedupTable {
  private results = new Map<string, Uint8Array>();
  private bytes = 0;
  private hash = 0n;

  constructor(
    readonly entriesMax: number = limits.dedup_entries_max,
    readonly bytesMax: number = limits.dedup_bytes_max,
  ) {
    assert(entriesMax > 0 && bytesMax > 0, "dedup: bounds are positive");
  }

  get size(): number {
    return this.results.size;
  }

  get contentHash(): bigint {
    return this.hash;
  }

  lookup(id: string): Uint8Array | undefined {
    return this.results.get(id);
  }

  /** remember stores a result (an id seen before keeps its first result), then evicts the oldest past a bound. */
  remember(id: string, result: Uint8Array): void {
    if (this.results.has(id)) return;
    this.results.set(id, result);
    this.bytes += id.length + result.length;
    this.hash ^= entryHash(id, result);
    while (this.results.size > this.entriesMax || (this.bytes > this.bytesMax && this.results.size > 1)) {
      const [oldest, bytes] = this.results.entries().next().value!;
      this.results.delete(oldest);
      this.bytes -= oldest.length + bytes.length;
      this.hash ^= entryHash(oldest, bytes);
    }
  }

  /** entries: oldest first, as a snapshot stores them (restoring in this order keeps the eviction order). */
  entries(): [string, Uint8Array][] {
    return Array.from(this.results);
  }
}

function entryHash(id: string, result: Uint8Array): bigint {
  return Bun.hash.wyhash(result, Bun.hash.wyhash(`${id.length}:${id}`, dedup_hash_seed));
}
