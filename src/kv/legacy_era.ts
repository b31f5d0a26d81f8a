import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import type { KeyValue, RangeRequest, RangeResponse } from "./mvcc_types.ts";
import { MvccStore, type StoreOptions } from "./mvcc_store.ts";

/**
 * The v1 era: the state written by qklzl before revisions (v1 log entries [1,k,v] / [2,k], v1 snapshot images
 * of a plain map). Replicas of one log restored v1 images at different indexes, or none, so all a replica can
 * know at index i is the map there: the era's state at i must be a function of (map, i) alone, or replicas
 * differ. So it is what a v1 image restored at i shows: every key at revision L = max(1, i) (create = mod = L,
 * version 1, lease 0), L also the store and the compacted revision (no history: none is known alike on every
 * replica). L moves with every applied entry of the era, skips too; it never goes backwards.
 *
 * The store of the era holds every key at the floor revision (create = mod = revision = compacted = 1), so its
 * hash and order depend on the map alone; the state machine shows the records at L (stampKv, legacyRange). The
 * first entry of today's binary (any non-v1 entry, at index N) ends the era: settle() rebuilds the store with
 * every key at L = max(1, N - 1), what the era showed then, and the entry applies after it as usual.
 */
export const legacy_floor = 1;

/** legacyRevision: the revision the v1 era shows at applied index `index`. */
export function legacyRevision(index: number): number {
  return Math.max(legacy_floor, index);
}

/** legacyMark: the era's contribution to the state hash at revision L (the floor store's hash is the map's). */
export function legacyMark(revision: number): bigint {
  return Bun.hash.wyhash(`legacy:${revision}`, 0x716b6c7an);
}

/** floorStore: an empty store of the era (nothing to compact below the floor). */
export function floorStore(options: StoreOptions): MvccStore {
  return MvccStore.builder(options, { revision: legacy_floor, compacted: legacy_floor }).finish();
}

/** stampKv: a record of the era's store as the era shows it at revision L. */
export function stampKv(kv: KeyValue, revision: number): KeyValue {
  return { ...kv, create_revision: revision, mod_revision: revision };
}

/**
 * legacyRange reads the era's store as at revision L: a read at another revision is compacted (below) or in
 * the future (above); the min/max revision filters keep every key or none (all are at L); sorts by create,
 * mod or version keep key order, as they do in the floor store (all equal there too).
 */
export function legacyRange(store: MvccStore, revision: number, request: RangeRequest): RangeResponse {
  const at = request.revision ?? 0;
  if (at > revision) {
    throw new QklzlError("future_revision", `revision ${at} is ahead of the current revision ${revision}`, { revision: at, current_revision: revision });
  }
  if (at > 0 && at < revision) {
    throw new QklzlError("compacted", `revision ${at} has been compacted; the oldest readable is ${revision}`, { revision: at, compact_revision: revision });
  }
  const { min_mod_revision, max_mod_revision, min_create_revision, max_create_revision, ...rest } = request;
  const outside = (min: number | undefined, max: number | undefined) => (min ?? 0) > revision || ((max ?? 0) > 0 && max! < revision);
  const filteredOut = outside(min_mod_revision, max_mod_revision) || outside(min_create_revision, max_create_revision);
  const inner = store.range({ ...rest, revision: 0, count_only: request.count_only === true || filteredOut });
  assert(inner.kvs.every((kv) => kv.mod_revision === legacy_floor && kv.version === 1), "kv: the v1 era's store holds floor records only");
  // count is the range's before the filters (as etcd, and as MvccStore.range).
  if (request.count_only === true || filteredOut) return { kvs: [], count: inner.count, more: false, revision };
  return { kvs: inner.kvs.map((kv) => stampKv(kv, revision)), count: inner.count, more: inner.more, revision };
}

/**
 * settle ends the era at revision L: a store of today's kind whose keys are all at L (version 1), with L as its
 * revision and compacted revision: what the era showed at its last index, now fixed. O(keys), once.
 */
export function settle(store: MvccStore, revision: number, options: StoreOptions): MvccStore {
  const image = store.image();
  assert(image.revision === legacy_floor && image.compacted === legacy_floor, "kv: settle a store of the v1 era");
  const builder = MvccStore.builder(options, { revision, compacted: revision }, image.keys.length);
  for (const key of image.keys) {
    const bytes = image.reader.bytes(image.heads.get(key)!);
    builder.startKey(key);
    builder.version(revision, revision, 0, 1, 0, false, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), 0, bytes.length);
    builder.endKey();
  }
  const settled = builder.finish();
  assert(settled.size === store.size, "kv: settling keeps every key");
  return settled;
}
