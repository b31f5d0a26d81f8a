import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import { compareKeys, inRange, isRange } from "./key_order.ts";
import { type LeaseHook, leaseNotFound } from "./lessor.ts";
import type { DeleteRangeResponse, Event, KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse } from "./mvcc_types.ts";
import { KeyTable } from "./key_table.ts";
import { SortedKeys } from "./sorted_keys.ts";
import { no_location, type RecordMeta, type RecordReader, ValueArena } from "./value_arena.ts";

const store_hash_seed = 0x716b6c7an; // "qklz"

/** StoreOptions: retention is the revision-count auto-compaction window (0 = keep everything). */
export interface StoreOptions {
  retentionRevisions?: number;
  /** historyBytesMax: bytes of old versions past which the older half of the window is compacted. */
  historyBytesMax?: number;
  rangeBytesMax?: number;
}

export interface StoreMemory {
  /** liveBytes: arena bytes of every kept record (heads and history). */
  liveBytes: number;
  historyBytes: number;
  historyEvents: number;
  arenaCompactions: number;
}

/**
 * WriteTxn collects the changes of one revision (a put, a delete, a txn): they share `revision`. `events`
 * is null when nobody listens (the feed can always be read back from history with MvccStore.events).
 */
export interface WriteTxn {
  revision: number;
  sub: number;
  events: Event[] | null;
}

/** StoreCounters: the two revisions a snapshot carries besides the records. */
export interface StoreCounters {
  revision: number;
  compacted: number;
}

/**
 * MvccStore is etcd's mvcc key space: a store revision (1 at creation, +1 per write transaction), every
 * version of every key with create/mod revision, version and lease, tombstones, reads at any revision since
 * the compacted one, and compaction. Deterministic: the same calls give the same state and hash.
 *
 * Layout: `heads` maps each key (live or tombstoned) to its newest record; records chain to older ones
 * (value_arena.ts); `index` orders the keys; the event log lists (revision, key) of every change after the
 * compacted revision, in order: compaction visits only the keys changed in the window it drops, and watch
 * reads its feed from it.
 *
 * Invariants: compacted <= revision; every key in heads is in index and vice versa; every event's revision
 * is in (compacted, revision] and the log is in (revision, sub) order.
 */
export class MvccStore {
  private heads = new KeyTable();
  private arena = new ValueArena();
  private index = new SortedKeys();
  private liveKeys = 0;
  private rev = 1;
  private compactedRev = 0;
  private eventKeys: string[] = [];
  private eventRevs: number[] = [];
  /**
   * eventLocs: each event's record location (kept right when an arena compaction moves the record: relocated).
   * Compaction finds a key's kept version there instead of walking its chain from the head: that walk is a
   * cache miss per newer version, and with small batches it was most of a compaction's time (1 KiB values,
   * 2,000 keys: 2.5 M steps, 0.3 s of 200,000 puts).
   */
  private eventLocs: number[] = [];
  private readonly relocated = (key: string, from: number, to: number) => this.relocate(key, from, to);
  private eventStart = 0;
  private hash = 0n;
  /** headBytes: arena bytes of the heads (the newest record of each key); the rest of the live bytes is history. */
  private headBytes = 0;
  /**
   * keptRecords: records a snapshot carries (every key's liveChain), kept as a count so that an image's header
   * needs no pass over all chains before its first byte (that pass was one synchronous stall per snapshot).
   */
  private keptRecords = 0;
  /** leases: the state machine's lessor (null in a bare store: leases are then just numbers on records). */
  leases: LeaseHook | null = null;
  readonly retention: number;
  readonly historyBytesMax: number;
  readonly rangeBytesMax: number;

  constructor(options: StoreOptions = {}) {
    this.retention = options.retentionRevisions ?? limits.history_revisions_default;
    this.rangeBytesMax = options.rangeBytesMax ?? limits.range_response_bytes_max;
    this.historyBytesMax = options.historyBytesMax ?? limits.history_bytes_max;
    assert(Number.isSafeInteger(this.retention) && this.retention >= 0, "store: retention is a count");
  }

  get revision(): number {
    return this.rev;
  }

  get compacted(): number {
    return this.compactedRev;
  }

  /** size: live keys (tombstoned ones excluded). */
  get size(): number {
    return this.liveKeys;
  }

  /** historyEvents: changes kept after the compacted revision (the event feed's length). */
  get historyEvents(): number {
    return this.eventKeys.length - this.eventStart;
  }

  /** contentHash covers every kept record (keys, values, revisions, versions, leases) and both revisions. */
  contentHash(): bigint {
    return this.hash ^ Bun.hash.wyhash(`rev:${this.rev}:${this.compactedRev}`, store_hash_seed);
  }

  /** get: the current value of a key (undefined when absent or deleted). */
  get(key: string): string | undefined {
    const head = this.heads.get(key);
    if (head === undefined || this.arena.isTombstone(head)) return undefined;
    return this.arena.value(head);
  }

  /** getKv: a key's current KeyValue, or null. */
  getKv(key: string): KeyValue | null {
    const head = this.heads.get(key);
    if (head === undefined || this.arena.isTombstone(head)) return null;
    return kvOf(this.arena, key, head, false);
  }

  /** liveKvs: every live key in [key, rangeEnd) (or the one key) now, uncapped (for txn compares). */
  liveKvs(key: string, rangeEnd: string | undefined): KeyValue[] {
    if (!isRange(rangeEnd)) {
      const kv = this.getKv(key);
      return kv === null ? [] : [kv];
    }
    const out: KeyValue[] = [];
    for (const candidate of this.index.keysFrom(key)) {
      if (!inRange(candidate, key, rangeEnd)) break;
      const head = this.heads.get(candidate)!;
      if (!this.arena.isTombstone(head)) out.push(kvOf(this.arena, candidate, head, false));
    }
    return out;
  }

  /** checkRevision: a read at `revision` (0 = current) is possible; else compacted / future_revision. */
  checkRevision(revision: number): void {
    if (revision > this.rev) {
      throw new QklzlError("future_revision", `revision ${revision} is ahead of the current revision ${this.rev}`, {
        revision,
        current_revision: this.rev,
      });
    }
    if (revision > 0 && revision < this.compactedRev) {
      throw new QklzlError("compacted", `revision ${revision} has been compacted; the oldest readable is ${this.compactedRev}`, {
        revision,
        compact_revision: this.compactedRev,
      });
    }
  }

  /**
   * range reads keys at a revision (see RangeRequest). Sorts are stable with key order between equals;
   * the answer stops before rangeBytesMax of keys and values (at least one kv), saying more: true.
   */
  range(request: RangeRequest): RangeResponse {
    const revision = request.revision ?? 0;
    this.checkRevision(revision);
    const at = revision === 0 ? Number.POSITIVE_INFINITY : revision;
    const limit = request.limit ?? 0;
    const target = request.sort_target ?? "key";
    let order = request.sort_order ?? "none";
    if (order === "none" && target !== "key") order = "asc";
    const minMod = request.min_mod_revision ?? 0;
    const maxMod = request.max_mod_revision ?? 0;
    const minCreate = request.min_create_revision ?? 0;
    const maxCreate = request.max_create_revision ?? 0;
    const filtered = minMod > 0 || maxMod > 0 || minCreate > 0 || maxCreate > 0;
    const keyOrder = target === "key" && order !== "desc";
    // In key order without filters only limit + 1 matches are needed (count still walks the whole range).
    const want = request.count_only ? 0 : keyOrder && !filtered && limit > 0 ? limit + 1 : Number.POSITIVE_INFINITY;
    const arena = this.arena;
    const found: { key: string; loc: number }[] = [];
    let count = 0;
    const visit = (key: string, head: number) => {
      const loc = at === Number.POSITIVE_INFINITY ? head : arena.at(head, at);
      if (loc === no_location || arena.isTombstone(loc)) return;
      count++;
      if (found.length >= want) return;
      if (filtered) {
        const meta = arena.meta(loc);
        if (minMod > 0 && meta.mod < minMod) return;
        if (maxMod > 0 && meta.mod > maxMod) return;
        if (minCreate > 0 && meta.create < minCreate) return;
        if (maxCreate > 0 && meta.create > maxCreate) return;
      }
      found.push({ key, loc });
    };
    if (!isRange(request.range_end)) {
      const head = this.heads.get(request.key);
      if (head !== undefined) visit(request.key, head);
    } else {
      for (const key of this.index.keysFrom(request.key)) {
        if (!inRange(key, request.key, request.range_end)) break;
        visit(key, this.heads.get(key)!);
      }
    }
    if (request.count_only) return { kvs: [], count, more: false, revision: this.rev };
    if (!keyOrder) sortFound(arena, found, target, order === "desc");
    const kvs: KeyValue[] = [];
    let bytes = 0;
    const take = limit > 0 ? Math.min(limit, found.length) : found.length;
    for (let i = 0; i < take; i++) {
      const { key, loc } = found[i]!;
      const size = Buffer.byteLength(key, "utf8") + (request.keys_only ? 0 : arena.valueBytes(loc));
      if (kvs.length > 0 && bytes + size > this.rangeBytesMax) break;
      bytes += size;
      kvs.push(kvOf(arena, key, loc, request.keys_only === true));
    }
    return { kvs, count, more: found.length > kvs.length, revision: this.rev };
  }

  /**
   * beginWrite starts the changes of the next revision; endWrite commits them (a no-op if none).
   * `atLeast` lets a v1 log entry write at its index (see KvStateMachine: revisions never go backwards).
   */
  beginWrite(atLeast = 0, withEvents = true): WriteTxn {
    return { revision: Math.max(this.rev + 1, atLeast), sub: 0, events: withEvents ? [] : null };
  }

  endWrite(txn: WriteTxn): void {
    if (!(txn.revision > this.rev)) assert(false, `store: write at ${txn.revision} after ${this.rev}`);
    if (txn.sub === 0) return;
    this.rev = txn.revision;
    const batch = limits.compaction_batch_revisions;
    if (this.retention > 0) {
      // Compact in batches (a tenth of the window, at most `batch` revisions): the cost per write stays O(1)
      // amortized and no single write pays for a large batch.
      const slack = Math.max(1, Math.min(Math.floor(this.retention / 10), batch));
      if (this.rev - this.compactedRev >= this.retention + slack) this.compact(this.rev - this.retention);
    }
    if (this.historyBytes > this.historyBytesMax && this.rev > this.compactedRev) {
      // The older half of the window, at most `batch` revisions: the next write compacts again if still over.
      this.compact(this.compactedRev + Math.min(Math.ceil((this.rev - this.compactedRev) / 2), batch));
    }
    this.arena.tend(this.heads, this.compactedRev, this.relocated);
  }

  /** pristine: nothing was ever written or restored (a new store: revision 1, nothing compacted, no key). */
  get pristine(): boolean {
    return this.rev === 1 && this.compactedRev === 0 && this.heads.size === 0;
  }

  /**
   * setAtFloor (the v1 era's store, legacy_era.ts) makes `value` the key's only version (null: the key is
   * gone), at create = mod = the store revision, which must be the compacted one: no history, no tombstone, no
   * event, no new revision. The era's revisions are shown by the state machine, not kept here.
   */
  setAtFloor(key: string, value: string | null): void {
    if (!(this.rev === this.compactedRev)) assert(false, "store: setAtFloor on a store without history only");
    const arena = this.arena;
    const head = this.heads.get(key);
    if (head !== undefined) {
      if (!(arena.prev(head) === no_location && !arena.isTombstone(head))) assert(false, `store: ${key} has one live version at the floor`);
      this.headBytes -= arena.recordBytes(head);
      this.drop(key, head);
      this.liveKeys--;
      if (value === null) {
        this.heads.delete(key);
        this.index.remove(key);
      }
    }
    if (value !== null) {
      const loc = arena.put(value, { create: this.rev, mod: this.rev, sub: 0, version: 1, lease: 0, tombstone: false, prev: no_location });
      this.headBytes += arena.recordBytes(loc);
      this.heads.set(key, loc);
      if (head === undefined) this.index.insert(key);
      this.hash ^= recordHash(arena, key, loc);
      this.keptRecords++;
      this.liveKeys++;
    }
    assert(this.liveKeys === this.heads.size, "store: at the floor every key is live");
    if (arena.wantsCompaction()) arena.startCompaction(this.heads);
    arena.tend(this.heads, this.compactedRev, this.relocated);
  }

  /** memory: what the store holds, for figures and tests. */
  memory(): StoreMemory {
    return {
      liveBytes: this.arena.liveBytes,
      historyBytes: this.historyBytes,
      historyEvents: this.historyEvents,
      arenaCompactions: this.arena.compactions,
    };
  }

  /** historyBytes: arena bytes of kept old versions and tombstones. */
  get historyBytes(): number {
    return this.arena.liveBytes - this.headBytes;
  }

  /**
   * checkPut: what would make a put fail at apply (ignore_value / ignore_lease on a missing key); thrown
   * before a txn writes anything so that it stays atomic.
   */
  checkPut(request: PutRequest): void {
    const lease = request.lease ?? 0;
    if (lease !== 0 && !request.ignore_lease && this.leases !== null && !this.leases.exists(lease)) throw leaseNotFound(lease);
    if (!request.ignore_value && !request.ignore_lease) return;
    if (this.getKv(request.key) === null) {
      throw new QklzlError("key_not_found", `key ${JSON.stringify(request.key)} not found (ignore_value / ignore_lease need it)`, {
        key: request.key,
      });
    }
  }

  put(txn: WriteTxn, request: PutRequest): PutResponse {
    const key = request.key;
    const arena = this.arena;
    const head = this.heads.get(key);
    const current = head !== undefined && !arena.isTombstone(head) ? head : no_location;
    const before = current === no_location ? null : arena.meta(current);
    assert(before !== null || (!request.ignore_value && !request.ignore_lease), "store: checkPut ran first");
    // The previous value is decoded only when someone wants it (prev_kv, an event, ignore_value).
    const wanted = request.prev_kv === true || txn.events !== null || request.ignore_value === true;
    const prev = before === null || !wanted ? undefined : kvFrom(key, arena.value(current), before);
    // A raw put (value_bytes) is copied into the arena as bytes; its string exists only if an event needs it.
    const raw = request.ignore_value ? undefined : request.value_bytes;
    const value = request.ignore_value ? prev!.value : raw === undefined ? request.value : "";
    const meta = {
      create: before?.create ?? txn.revision,
      mod: txn.revision,
      sub: txn.sub,
      version: (before?.version ?? 0) + 1,
      lease: request.ignore_lease ? before!.lease : request.lease ?? 0,
      tombstone: false,
      prev: head ?? no_location,
    };
    const loc = arena.put(raw ?? value, meta);
    this.recordWritten(txn, key, loc, head);
    const leaseBefore = before?.lease ?? 0;
    if (this.leases !== null && leaseBefore !== meta.lease) {
      if (leaseBefore !== 0) this.leases.detach(key, leaseBefore);
      if (meta.lease !== 0) this.leases.attach(key, meta.lease);
    }
    if (current === no_location) this.liveKeys++;
    if (txn.events !== null) {
      const kv = kvFrom(key, raw === undefined ? value : request.value, meta);
      txn.events.push(prev === undefined ? { type: "put", kv } : { type: "put", kv, prev_kv: prev });
    }
    return request.prev_kv && prev !== undefined ? { revision: txn.revision, prev_kv: prev } : { revision: txn.revision };
  }

  deleteRange(txn: WriteTxn, key: string, rangeEnd: string | undefined, withPrev: boolean): DeleteRangeResponse {
    const keys: string[] = [];
    if (!isRange(rangeEnd)) {
      if (this.getKv(key) !== null) keys.push(key);
    } else {
      for (const candidate of this.index.keysFrom(key)) {
        if (!inRange(candidate, key, rangeEnd)) break;
        if (!this.arena.isTombstone(this.heads.get(candidate)!)) keys.push(candidate);
      }
    }
    const prevs: KeyValue[] = [];
    for (const victim of keys) {
      const head = this.heads.get(victim)!;
      const prev = kvOf(this.arena, victim, head, false);
      if (prev.lease !== 0) this.leases?.detach(victim, prev.lease);
      const loc = this.arena.put("", { create: 0, mod: txn.revision, sub: txn.sub, version: 0, lease: 0, tombstone: true, prev: head });
      this.recordWritten(txn, victim, loc, head);
      this.liveKeys--;
      txn.events?.push({ type: "delete", kv: tombstoneKv(victim, txn.revision), prev_kv: prev });
      if (withPrev) prevs.push(prev);
    }
    const response: DeleteRangeResponse = { revision: txn.revision, deleted: keys.length };
    if (withPrev) response.prev_kvs = prevs;
    return response;
  }

  private recordWritten(txn: WriteTxn, key: string, loc: number, head: number | undefined): void {
    this.headBytes += this.arena.recordBytes(loc);
    if (head !== undefined) this.headBytes -= this.arena.recordBytes(head);
    // The event log keeps the table's copy of the key: one string per key, not one per write (with 100,000
    // revisions of history over 10,000 keys, 90,000 strings fewer for every collection to trace).
    const stored = this.heads.set(key, loc);
    this.keptRecords++;
    if (head === undefined) this.index.insert(key);
    this.hash ^= recordHash(this.arena, key, loc);
    this.eventKeys.push(stored);
    this.eventRevs.push(txn.revision);
    this.eventLocs.push(loc);
    txn.sub++;
  }

  /**
   * compact drops the history at and below `revision` (reads at `revision` still work; below it fail with
   * `compacted`): for each key changed since the last compaction, the versions older than its newest one
   * at or below `revision`, and that one too if it is a tombstone. Does not change the revision.
   */
  compact(revision: number): void {
    if (revision <= this.compactedRev) {
      throw new QklzlError("compacted", `revision ${revision} is already compacted (compacted revision ${this.compactedRev})`, {
        revision,
        compact_revision: this.compactedRev,
      });
    }
    this.checkRevision(revision);
    const floor = this.compactedRev;
    const arena = this.arena;
    // touched: each key changed in the window, with the index of its last event there: its newest version in
    // the window, the one kept.
    const touched = new Map<string, number>();
    let end = this.eventStart;
    while (end < this.eventKeys.length && this.eventRevs[end]! <= revision) touched.set(this.eventKeys[end]!, end++);
    for (const [key, last] of touched) {
      const head = this.heads.get(key)!;
      const kept = this.eventLocs[last]!;
      if (!(kept !== no_location && arena.mod(kept) === this.eventRevs[last])) assert(false, `store: ${key}'s newest version in the window is its last event's`);
      for (let loc = arena.prev(kept); loc !== no_location; loc = arena.prev(loc)) {
        if (arena.mod(loc) <= floor) {
          // The previous floor version: still live unless it was a tombstone (freed back then).
          if (!arena.isTombstone(loc)) this.drop(key, loc);
          break;
        }
        this.drop(key, loc);
      }
      if (arena.isTombstone(kept)) {
        this.drop(key, kept);
        if (kept === head) {
          this.headBytes -= arena.recordBytes(head);
          this.heads.delete(key);
          this.index.remove(key);
        }
      }
    }
    this.eventStart = end;
    this.compactedRev = revision;
    if (this.eventStart > 4096 && this.eventStart * 2 > this.eventKeys.length) {
      this.eventKeys = this.eventKeys.slice(this.eventStart);
      this.eventRevs = this.eventRevs.slice(this.eventStart);
      this.eventLocs = this.eventLocs.slice(this.eventStart);
      this.eventStart = 0;
    }
    if (arena.wantsCompaction()) arena.startCompaction(this.heads);
  }

  /** relocate: the arena moved a record of `key`; an event of it (mod above the compacted revision) follows. */
  private relocate(key: string, from: number, to: number): void {
    const mod = this.arena.mod(to);
    if (mod <= this.compactedRev) return; // the floor version: no event
    for (let i = this.eventStart + lowerBoundNumber(this.eventRevs, mod, this.eventStart); i < this.eventKeys.length && this.eventRevs[i] === mod; i++) {
      if (this.eventLocs[i] === from && this.eventKeys[i] === key) {
        this.eventLocs[i] = to;
        return;
      }
    }
    assert(false, `store: the event of ${key} at ${mod} is in the log`);
  }

  private drop(key: string, loc: number): void {
    this.hash ^= recordHash(this.arena, key, loc);
    this.arena.free(loc);
    this.keptRecords--;
    assert(this.keptRecords >= 0, "store: kept records never negative");
  }

  /**
   * events returns the changes with revision in [from, to] (from > compacted), in order, with prev_kv; the
   * feed of the watch issue. At most `max` events (whole revisions are not split beyond that bound).
   */
  events(from: number, to: number, max = Number.POSITIVE_INFINITY): Event[] {
    assert(from > this.compactedRev, "store: events after the compacted revision");
    const out: Event[] = [];
    let i = this.eventStart + lowerBoundNumber(this.eventRevs, from, this.eventStart);
    for (; i < this.eventKeys.length && this.eventRevs[i]! <= to && out.length < max; i++) {
      const key = this.eventKeys[i]!;
      const rev = this.eventRevs[i]!;
      const loc = this.arena.at(this.heads.get(key)!, rev);
      assert(loc !== no_location && this.arena.mod(loc) === rev, "store: an event's record is kept");
      const before = this.arena.prev(loc);
      // The previous version is kept: it is newer than the compacted revision or the floor version there.
      const prev = before !== no_location && !this.arena.isTombstone(before) ? kvOf(this.arena, key, before, false) : undefined;
      const kv = this.arena.isTombstone(loc) ? tombstoneKv(key, rev) : kvOf(this.arena, key, loc, false);
      const event: Event = { type: this.arena.isTombstone(loc) ? "delete" : "put", kv };
      if (prev !== undefined) event.prev_kv = prev;
      out.push(event);
    }
    return out;
  }

  /**
   * image fixes the state to serialize now: keys in order with their newest record, read through a reader
   * that stays valid while the store goes on (records are immutable; see RecordReader).
   */
  image(): StoreImage {
    // A copy of the key table's arrays (two memcpys), not a lookup per key: at a million keys those lookups
    // were ~0.5 s of one synchronous run; the writer looks heads up in the copy as it goes, between yields.
    const arena = this.arena;
    const reader = arena.reader();
    return {
      keys: this.index.all(),
      heads: this.heads.frozenCopy(),
      reader,
      revision: this.rev,
      compacted: this.compactedRev,
      versions: this.keptRecords,
      hash: this.contentHash(),
      release: () => arena.returnReader(reader),
    };
  }

  /**
   * StoreBuilder support: load replaces the whole state from records given key by key in increasing key
   * order, each key's versions oldest first.
   */
  static builder(options: StoreOptions, counters: StoreCounters, expectedKeys = 0): StoreBuilder {
    return new StoreBuilder(new MvccStore(options), counters, expectedKeys);
  }

  /** @internal used by StoreBuilder */
  _load(built: BuiltStore): void {
    this.heads = built.heads;
    this.arena = built.arena;
    this.index = SortedKeys.fromSorted(built.keys, false);
    this.liveKeys = built.live;
    this.rev = built.counters.revision;
    this.compactedRev = built.counters.compacted;
    this.hash = built.hash;
    this.headBytes = built.headBytes;
    this.keptRecords = built.versions;
    this.eventKeys = built.eventKeys;
    this.eventRevs = built.eventRevs;
    this.eventLocs = built.eventLocs;
    this.eventStart = 0;
  }
}

/** BuiltStore: what StoreBuilder hands to MvccStore._load (keys checked in order, events in (revision, sub) order). */
interface BuiltStore {
  heads: KeyTable;
  arena: ValueArena;
  keys: string[];
  live: number;
  hash: bigint;
  headBytes: number;
  versions: number;
  counters: StoreCounters;
  eventKeys: string[];
  eventRevs: number[];
  eventLocs: number[];
}

/** StoreImage: a fixed state for a snapshot (see MvccStore.image). */
export interface StoreImage {
  keys: string[];
  /** heads: the key table as it was (a copy the store does not touch), for each key's newest record. */
  heads: KeyTable;
  reader: RecordReader;
  revision: number;
  compacted: number;
  /** versions: the records of every key's liveChain (what the image carries), counted as the store goes. */
  versions: number;
  hash: bigint;
  /**
   * release: the image is no longer read; its records' memory may be reused (ValueArena.returnReader). Call it
   * once (KvStateMachine's image close does): a second call fails the arena's assertion.
   */
  release(): void;
}

/** VersionRecord: one kept version of a key, as a snapshot carries it. */
export interface VersionRecord {
  create: number;
  mod: number;
  sub: number;
  version: number;
  lease: number;
  tombstone: boolean;
  value: string | Uint8Array;
}

/**
 * liveChain lists a key's kept records, newest first: those after the compacted revision and the newest at
 * or below it unless that is a tombstone (the same rule as ValueArena.compact).
 */
export function liveChain(reader: RecordReader, head: number, compacted: number): number[] {
  const chain: number[] = [];
  for (let loc = head; loc !== no_location; loc = reader.prev(loc)) {
    if (reader.mod(loc) <= compacted) {
      if (!reader.isTombstone(loc)) chain.push(loc);
      break;
    }
    chain.push(loc);
  }
  return chain;
}

/**
 * StoreBuilder rebuilds a store from a snapshot's records, checking their order and revisions. Records go
 * straight into the arena: `add` takes one key's versions as objects (v1 images, tests); a v2 restore calls
 * startKey / version / endKey with numbers and a slice of the image, so it allocates nothing per record.
 */
export class StoreBuilder {
  private heads: KeyTable;
  private arena = new ValueArena();
  private keys: string[] = [];
  private live = 0;
  private hash = 0n;
  private headBytes = 0;
  private versions = 0;
  private eventKeys: string[] = [];
  private eventRevs: number[] = [];
  private eventLocs: number[] = [];
  private eventSubs: number[] = [];
  /** The key being added (null between keys), its hash seed, newest record so far, and that record's fields. */
  private key: string | null = null;
  private keySeed = 0n;
  private head = no_location;
  private headMod = 0;
  private headTombstone = false;
  private headLease = 0;
  /** leased: every live key whose head has a lease, collected as keys end (the lessor is rebuilt from it). */
  private readonly leased: [string, number][] = [];
  private firstMod = 0;
  private firstTombstone = false;

  constructor(
    private readonly store: MvccStore,
    private readonly counters: StoreCounters,
    expectedKeys: number,
  ) {
    assert(counters.compacted <= counters.revision, "store: compacted <= revision");
    // Sized once for the keys an image announces (no doubling and rehashing on the way to a million).
    this.heads = new KeyTable(expectedKeys);
  }

  /** add takes one key's kept versions, oldest first; throws on anything out of order. */
  add(key: string, versions: VersionRecord[]): void {
    const last = this.keys[this.keys.length - 1];
    if (last !== undefined && compareKeys(last, key) >= 0) throw new Error(`keys out of order at ${JSON.stringify(key)}`);
    this.startKey(key);
    for (const v of versions) {
      const value = typeof v.value === "string" ? Buffer.from(v.value, "utf8") : Buffer.from(v.value.buffer, v.value.byteOffset, v.value.length);
      this.version(v.create, v.mod, v.sub, v.version, v.lease, v.tombstone, value, 0, value.length);
    }
    this.endKey();
  }

  /** startKey begins a key; the caller has checked that keys come in strictly increasing order. */
  startKey(key: string): void {
    assert(this.key === null, "store builder: endKey before the next key");
    this.key = key;
    this.keySeed = Bun.hash.wyhash(key, store_hash_seed);
    this.head = no_location;
  }

  /** version adds the key's next version (oldest first) whose value is source[from, to). */
  version(create: number, mod: number, sub: number, version: number, lease: number, tombstone: boolean, source: Buffer, from: number, to: number): void {
    const key = this.key!;
    const first = this.head === no_location;
    if (!(mod > (first ? 0 : this.headMod)) || mod > this.counters.revision) throw new Error(`key ${JSON.stringify(key)}: bad mod revision ${mod}`);
    // Only a key's oldest kept version may be at or below the compacted revision (liveChain's rule; the kept
    // record count, and so the next image's header, relies on it).
    if (!first && mod <= this.counters.compacted) throw new Error(`key ${JSON.stringify(key)}: two versions at or below the compacted revision`);
    const loc = this.arena.putCopy(create, mod, sub, version, lease, tombstone, this.head, source, from, to);
    this.hash ^= Bun.hash.wyhash(this.arena.contentBytes(loc), this.keySeed);
    this.versions++;
    if (mod > this.counters.compacted) {
      this.eventKeys.push(key);
      this.eventRevs.push(mod);
      this.eventLocs.push(loc);
      this.eventSubs.push(sub);
    }
    if (first) {
      this.firstMod = mod;
      this.firstTombstone = tombstone;
    }
    this.head = loc;
    this.headMod = mod;
    this.headTombstone = tombstone;
    this.headLease = lease;
  }

  endKey(): void {
    const key = this.key!;
    if (this.head === no_location) throw new Error(`key ${JSON.stringify(key)} has no versions`);
    if (this.firstMod <= this.counters.compacted && this.firstTombstone) throw new Error(`key ${JSON.stringify(key)}: a compacted tombstone`);
    this.heads.set(key, this.head);
    this.keys.push(key);
    this.headBytes += this.arena.recordBytes(this.head);
    if (!this.headTombstone) this.live++;
    if (!this.headTombstone && this.headLease !== 0) this.leased.push([key, this.headLease]);
    this.key = null;
  }

  /**
   * leasedKeys: every live key with a lease, and that lease (to rebuild the lessor), gathered on the way (a
   * pass over a million heads afterwards cost ~0.4 s of a restart).
   */
  leasedKeys(): [string, number][] {
    return this.leased;
  }

  finish(): MvccStore {
    assert(this.key === null, "store builder: the last key ended");
    // Events arrive in key order; the log wants them in (revision, sub) order.
    const revs = this.eventRevs;
    const subs = this.eventSubs;
    let sorted = true;
    for (let i = 1; i < revs.length && sorted; i++) sorted = revs[i - 1]! < revs[i]! || (revs[i - 1] === revs[i] && subs[i - 1]! < subs[i]!);
    let eventKeys = this.eventKeys;
    let eventRevs = revs;
    let eventLocs = this.eventLocs;
    if (!sorted) {
      const order = Array.from({ length: revs.length }, (_, i) => i);
      order.sort((a, b) => revs[a]! - revs[b]! || subs[a]! - subs[b]!);
      eventKeys = order.map((i) => this.eventKeys[i]!);
      eventRevs = order.map((i) => revs[i]!);
      eventLocs = order.map((i) => this.eventLocs[i]!);
    }
    this.store._load({
      heads: this.heads,
      arena: this.arena,
      keys: this.keys,
      live: this.live,
      hash: this.hash,
      headBytes: this.headBytes,
      versions: this.versions,
      counters: this.counters,
      eventKeys,
      eventRevs,
      eventLocs,
    });
    return this.store;
  }
}

function kvOf(reader: RecordReader, key: string, loc: number, keysOnly: boolean): KeyValue {
  return kvFrom(key, keysOnly ? "" : reader.value(loc), reader.meta(loc));
}

function kvFrom(key: string, value: string, meta: RecordMeta): KeyValue {
  return {
    key,
    value,
    create_revision: meta.create,
    mod_revision: meta.mod,
    version: meta.version,
    lease: meta.lease,
  };
}

function tombstoneKv(key: string, revision: number): KeyValue {
  return { key, value: "", create_revision: 0, mod_revision: revision, version: 0, lease: 0 };
}

/** recordHash: one record's contribution to the XOR hash (the chain pointer is layout, not content). */
function recordHash(reader: RecordReader, key: string, loc: number): bigint {
  return Bun.hash.wyhash(reader.contentBytes(loc), Bun.hash.wyhash(key, store_hash_seed));
}

function sortFound(reader: RecordReader, found: { key: string; loc: number }[], target: string, desc: boolean): void {
  const sign = desc ? -1 : 1;
  if (target === "key") {
    found.reverse(); // collected in key order
    return;
  }
  if (target === "value") {
    const values = new Map(found.map((f) => [f.loc, reader.value(f.loc)]));
    found.sort((a, b) => sign * compareKeys(values.get(a.loc)!, values.get(b.loc)!));
    return;
  }
  const field = target === "create" ? "create" : target === "mod" ? "mod" : "version";
  const metas = new Map(found.map((f) => [f.loc, reader.meta(f.loc)[field]]));
  found.sort((a, b) => sign * (metas.get(a.loc)! - metas.get(b.loc)!));
}

function lowerBoundNumber(values: number[], x: number, start: number): number {
  let lo = start;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo - start;
}
