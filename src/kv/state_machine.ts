import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";
import { QklzlError, isQklzlError } from "../shared/errors.ts";
import { AlarmTable } from "./alarms.ts";
import { AuthStore } from "./auth_store.ts";
import type { Caller } from "./auth_types.ts";
import { decodeEntry, requestOf } from "./command.ts";
import { DedupTable } from "./dedup.ts";
import { type LeaseRecord, Lessor } from "./lessor.ts";
import { hashHex } from "./hash.ts";
import { floorStore, legacyMark, legacyRange, legacyRevision, settle, stampKv } from "./legacy_era.ts";
import { type HashSample, HashSamples } from "./hash_samples.ts";
import type { AlarmMember, AlarmRequest, AlarmType, EntryRequest, Event, KeyValue, KvRequest, KvResponse, RangeRequest, RangeResponse } from "./mvcc_types.ts";
import { MvccStore, type StoreMemory, type StoreOptions } from "./mvcc_store.ts";
import { readImage, writeImage } from "./snapshot_image.ts";
import { applyTxn, stampRevision } from "./txn.ts";
import type { KvCommand } from "./types.ts";

const packr = new Packr({ useRecords: false });

/** Codes a request can be refused with at apply time: the same on every replica, and nothing changes. */
const apply_refusals = new Set([
  "compacted",
  "future_revision",
  "key_not_found",
  "duplicate_key",
  "too_many_ops",
  "lease_not_found",
  "lease_exists",
  "too_many_leases",
  "no_space",
  "corrupt",
  // auth (auth_store.ts): the caller's rights and the auth changes are decided at apply, against the state then
  "permission_denied",
  "root_user_missing",
  "root_role_missing",
  "user_exists",
  "user_not_found",
  "role_exists",
  "role_not_found",
  "role_not_granted",
  "permission_not_granted",
  "invalid_auth_mgmt",
]);

/** SnapshotImage is a snapshot fixed at `index`, streamed by writeTo; close abandons it. */
export interface SnapshotImage {
  index: number;
  writeTo(write: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  close(): void;
}

export interface KvStats {
  index: number;
  keys: number;
  hash: string;
  revision: number;
  compact_revision: number;
}

/** EventListener receives the events of every write as it applies (the watch issue's feed). Must not throw. */
export type EventListener = (revision: number, events: Event[]) => void;

/** AlarmListener hears every applied alarm entry and the alarms it changed (for the log line). Must not throw. */
export type AlarmListener = (index: number, request: AlarmRequest, changed: AlarmMember[]) => void;

/**
 * KvStateMachine is the replicated state (the FSM contract of hashicorp/raft): the MVCC store plus the
 * dedup table of idempotent writes. apply must be deterministic: the same entries give the same revision,
 * history, dedup table and hash on every replica. snapshot captures the state at the applied index without
 * blocking the event loop for long (records are immutable, so the image reads a fixed view while applies go
 * on); restore discards all previous state.
 */
export class KvStateMachine {
  private store: MvccStore;
  private dedup = new DedupTable();
  /** lessor: the granted leases and their keys (replicated; expiry is decided by the leader, through the log). */
  private lessor = new Lessor();
  /** alarms: the raised alarms (NOSPACE, CORRUPT), replicated; they decide which writes apply (kv/alarms.ts). */
  private alarms = new AlarmTable();
  /** hashSamples: this member's state hash at recent sampling indexes (local, for the corruption check). */
  private readonly hashSamples = new HashSamples();
  /** auth: users, roles, permissions, enabled (auth_store.ts); writes of a named caller are checked against it. */
  private auth = new AuthStore();
  /** index is the last log index applied (entries of any kind) or restored. */
  private index = 0;
  /**
   * legacy: the store holds the v1 era's state (legacy_era.ts: every key at the floor, shown at revision
   * max(1, index)); from a v1 image, or a v1 entry on a pristine store, until the first entry of today's kind.
   */
  private legacy = false;
  private snapshotting = false;
  /** onEvents, when set, is called after every write that changed something. */
  onEvents: EventListener | null = null;
  /** onAlarm, when set, is called after every applied alarm entry. */
  onAlarm: AlarmListener | null = null;

  constructor(private readonly options: StoreOptions = {}) {
    this.store = new MvccStore(options);
    this.store.leases = this.lessor;
  }

  get appliedIndex(): number {
    return this.index;
  }

  /** size: live keys. */
  get size(): number {
    return this.store.size;
  }

  get revision(): number {
    return this.legacy ? legacyRevision(this.index) : this.store.revision;
  }

  /** compactedRevision: in the v1 era, the revision itself (that era keeps no history). */
  get compactedRevision(): number {
    return this.legacy ? legacyRevision(this.index) : this.store.compacted;
  }

  get(key: string): string | undefined {
    return this.store.get(key);
  }

  getKv(key: string): KeyValue | null {
    const kv = this.store.getKv(key);
    return kv !== null && this.legacy ? stampKv(kv, legacyRevision(this.index)) : kv;
  }

  /** range reads (local state: the caller decides linearizable vs stale); throws compacted / future_revision. */
  range(request: RangeRequest): RangeResponse {
    return this.legacy ? legacyRange(this.store, legacyRevision(this.index), request) : this.store.range(request);
  }

  /** events: the kept changes with revision in [from, to] (see MvccStore.events; none in the v1 era). */
  events(from: number, to: number, max?: number): Event[] {
    if (this.legacy) {
      assert(from > this.compactedRevision, "kv: events after the compacted revision");
      return [];
    }
    return this.store.events(from, to, max);
  }

  /** lease: a granted lease (id, TTL) with its attached keys in key order, or null. */
  lease(id: number): (LeaseRecord & { keys: string[] }) | null {
    const lease = this.lessor.get(id);
    return lease === null ? null : { ...lease, keys: this.lessor.keysOf(id) };
  }

  /** leases: every granted lease, by id. */
  leases(): LeaseRecord[] {
    return this.lessor.records();
  }

  /** leasesVersion changes whenever a lease is granted or revoked, or the state is restored. */
  get leasesVersion(): number {
    return this.lessor.version;
  }

  /** authState: the auth state as applied (read it, never change it: changes go through the log). */
  get authState(): AuthStore {
    return this.auth;
  }

  get leaseCount(): number {
    return this.lessor.size;
  }

  memory(): StoreMemory {
    return this.store.memory();
  }

  /** alarmList: the raised alarms, by member then type. */
  alarmList(): AlarmMember[] {
    return this.alarms.records();
  }

  /** hasAlarm: an alarm of `type` is raised (for any member). */
  hasAlarm(type: AlarmType): boolean {
    return this.alarms.has(type);
  }

  /** alarmRefusal: the error `request` would get at apply from the raised alarms now, or null (the fast check). */
  alarmRefusal(request: KvRequest): QklzlError | null {
    return this.alarms.refusal(request);
  }

  /** recentHashes: the state hash at the recent sampling indexes (kv/hash_samples.ts), oldest first. */
  recentHashes(): HashSample[] {
    return this.hashSamples.list();
  }

  private sampleHash(): void {
    if (HashSamples.due(this.index)) this.hashSamples.record({ index: this.index, revision: this.revision, hash: this.stateHash(this.storeHash(this.store.contentHash())) });
  }

  /** storeHash: the store's part of the state hash (in the v1 era, the map's and the era's revision). */
  private storeHash(contentHash: bigint): bigint {
    return this.legacy ? contentHash ^ legacyMark(legacyRevision(this.index)) : contentHash;
  }

  private stateHash(storeHash: bigint): string {
    return hashHex(storeHash ^ this.dedup.contentHash ^ this.lessor.contentHash ^ this.alarms.contentHash ^ this.auth.contentHash);
  }

  stats(): KvStats {
    return {
      index: this.index,
      keys: this.store.size,
      hash: this.stateHash(this.storeHash(this.store.contentHash())),
      revision: this.revision,
      compact_revision: this.compactedRevision,
    };
  }

  /** applyEntry decodes and applies the request of a normal entry at `index` (v1 or v2 encoding). */
  applyEntry(index: number, data: Uint8Array): KvResponse {
    const entry = decodeEntry(data);
    return this.applyRequest(index, entry.request, entry.requestId, entry.legacy, entry.caller ?? null);
  }

  /** apply: a put/delete of the original API (tests and tools). */
  apply(index: number, command: KvCommand): KvResponse {
    return this.applyRequest(index, requestOf(command));
  }

  /**
   * applyRequest applies one request at `index`. A request id seen before answers its first result and
   * changes nothing. `legacy` (a v1 entry, written before revisions) changes the v1 era's map (legacy_era.ts;
   * the era begins at such an entry on a pristine store); any other entry ends that era first, at the
   * previous index. A v1 entry after the era (a log that mixes them) writes at revision max(next, index).
   * A named `caller` is checked against the auth state at this point of the log (permission_denied).
   */
  applyRequest(index: number, request: EntryRequest, requestId: string | null = null, legacy = false, caller: Caller | null = null): KvResponse {
    if (!(index === this.index + 1)) assert(false, `kv: apply ${index} after ${this.index}`);
    if (legacy && (this.legacy || this.store.pristine)) {
      this.index = index;
      const response = this.applyV1(request);
      this.sampleHash();
      return response;
    }
    if (this.legacy) this.settle();
    this.index = index;
    if (requestId !== null) {
      const seen = this.dedup.lookup(requestId);
      if (seen !== undefined) {
        this.sampleHash();
        return packr.unpack(seen) as KvResponse;
      }
    }
    const response = this.execute(request, legacy ? index : 0, caller);
    if (requestId !== null) this.dedup.remember(requestId, packr.pack(response));
    this.sampleHash();
    return response;
  }

  private execute(request: EntryRequest, atLeast: number, caller: Caller | null): KvResponse {
    const store = this.store;
    try {
      if (request.kind === "alarm") return this.applyAlarm(request.alarm);
      // Auth changes are not refused by an alarm (etcd's capped and corrupt appliers pass them through).
      if (request.kind === "auth") return { kind: "auth", auth: this.auth.apply(request.auth, caller) };
      const refused = this.alarms.refusal(request);
      if (refused !== null) throw refused;
      // An entry without a caller was proposed while auth was off, or by the cluster itself (lease expiry,
      // retention, an alarm): it is not checked. A named caller must still hold the rights now (etcd's rule).
      if (caller !== null) this.auth.checkRequest(caller, request);
      if (request.kind === "compact") {
        store.compact(request.compact.revision);
        return { kind: "compact", compact: { revision: store.revision, compact_revision: store.compacted } };
      }
      if (request.kind === "lease_grant") {
        this.lessor.grant(request.lease_grant.id, request.lease_grant.ttl);
        return { kind: "lease_grant", lease_grant: { ...request.lease_grant, revision: store.revision } };
      }
      if (request.kind === "lease_revoke") return this.revoke(request.lease_revoke.id, atLeast);
      if (request.kind === "put") store.checkPut(request.put);
      const write = store.beginWrite(atLeast, this.onEvents !== null);
      let response: KvResponse;
      if (request.kind === "put") {
        response = { kind: "put", put: store.put(write, request.put) };
      } else if (request.kind === "delete_range") {
        const d = request.delete_range;
        response = { kind: "delete_range", delete_range: store.deleteRange(write, d.key, d.range_end, d.prev_kv === true) };
      } else {
        response = { kind: "txn", txn: applyTxn(store, request.txn, write) };
      }
      store.endWrite(write);
      if (response.kind === "txn") stampRevision(response.txn, store.revision);
      else if (response.kind === "delete_range") response.delete_range.revision = store.revision;
      if (write.events !== null && write.events.length > 0) this.onEvents?.(write.revision, write.events);
      return response;
    } catch (error) {
      if (!isQklzlError(error) || !apply_refusals.has(error.code)) throw error;
      return { kind: "error", error: { error: error.code, message: error.message, details: error.details } };
    }
  }

  /**
   * applyV1 applies a v1 entry (a put, or a delete of one key) to the v1 era's map at this.index: that key and
   * every other one are then at the era's revision for this index; the feed hears the change at it.
   */
  private applyV1(request: EntryRequest): KvResponse {
    if (!this.legacy) {
      assert(this.store.pristine, "kv: the v1 era begins on a pristine store");
      this.store = floorStore(this.options);
      this.store.leases = this.lessor;
      this.legacy = true;
    }
    const refused = request.kind === "alarm" || request.kind === "auth" ? null : this.alarms.refusal(request);
    if (refused !== null) return { kind: "error", error: { error: refused.code, message: refused.message, details: refused.details } };
    const revision = legacyRevision(this.index);
    const listening = this.onEvents !== null;
    if (request.kind === "put") {
      const { key, value } = request.put;
      const before = listening ? this.store.getKv(key) : null;
      this.store.setAtFloor(key, value);
      const kv: KeyValue = { key, value, create_revision: revision, mod_revision: revision, version: 1, lease: 0 };
      if (listening) this.onEvents?.(revision, [before === null ? { type: "put", kv } : { type: "put", kv, prev_kv: stampKv(before, legacyRevision(this.index - 1)) }]);
      return { kind: "put", put: { revision } };
    }
    if (!(request.kind === "delete_range" && request.delete_range.range_end === undefined)) assert(false, "kv: a v1 entry is a put or a delete of one key");
    const key = request.delete_range.key;
    const before = this.store.getKv(key);
    if (before !== null) {
      this.store.setAtFloor(key, null);
      const tombstone: KeyValue = { key, value: "", create_revision: 0, mod_revision: revision, version: 0, lease: 0 };
      if (listening) this.onEvents?.(revision, [{ type: "delete", kv: tombstone, prev_kv: stampKv(before, legacyRevision(this.index - 1)) }]);
    }
    return { kind: "delete_range", delete_range: { revision, deleted: before === null ? 0 : 1 } };
  }

  /** settle ends the v1 era at the applied index: its keys keep the revision it showed there (legacy_era.ts). */
  private settle(): void {
    assert(this.legacy, "kv: settle in the v1 era only");
    this.store = settle(this.store, legacyRevision(this.index), this.options);
    this.store.leases = this.lessor;
    this.legacy = false;
  }

  private applyAlarm(request: AlarmRequest): KvResponse {
    const changed = this.alarms.apply(request);
    this.onAlarm?.(this.index, request, changed);
    return { kind: "alarm", alarm: { alarms: changed } };
  }

  /**
   * revoke deletes every key attached to lease `id` in one write (one revision, none if it had no keys; the
   * watchers see the deletes together), then forgets the lease. Throws lease_not_found.
   */
  private revoke(id: number, atLeast: number): KvResponse {
    const store = this.store;
    const keys = this.lessor.keysOf(id);
    const write = store.beginWrite(atLeast, this.onEvents !== null);
    for (const key of keys) store.deleteRange(write, key, undefined, false);
    store.endWrite(write);
    this.lessor.remove(id);
    if (write.events !== null && write.events.length > 0) this.onEvents?.(write.revision, write.events);
    return { kind: "lease_revoke", lease_revoke: { revision: store.revision, deleted: keys.length } };
  }

  /** skip advances the applied index over an entry that is not a kv command (noop, conf change). */
  skip(index: number): void {
    if (!(index === this.index + 1)) assert(false, `kv: skip ${index} after ${this.index}`);
    this.index = index;
    this.sampleHash();
  }

  /**
   * snapshot serializes the state as it is now (at appliedIndex), yielding to the event loop between
   * bursts. Applies may continue meanwhile; the image still shows the state at the start. One at a time.
   */
  async snapshot(): Promise<{ index: number; data: Uint8Array }> {
    const image = this.beginSnapshot();
    const chunks: Uint8Array[] = [];
    await image.writeTo(async (chunk) => {
      chunks.push(new Uint8Array(chunk)); // a copy: the writer reuses its buffer (Buffer#slice would alias it)
    });
    return { index: image.index, data: Buffer.concat(chunks) };
  }

  /**
   * beginSnapshot fixes the state to serialize now (synchronously: the image is the state at appliedIndex);
   * writeTo then streams it (format v2, snapshot_image.ts) in ~1 MiB pieces, so a big store's image is never
   * whole in memory. One at a time; close() ends it (writeTo does at its end).
   */
  beginSnapshot(): SnapshotImage {
    assert(!this.snapshotting, "kv: a snapshot is already running");
    this.snapshotting = true;
    const index = this.index;
    const fixed = this.store.image();
    const legacy = this.legacy ? legacyRevision(this.index) : null;
    const dedup = this.dedup.entries();
    const leases = this.lessor.records();
    const alarms = this.alarms.records();
    const auth = this.auth.empty ? null : this.auth.image();
    const hash = this.stateHash(this.storeHash(fixed.hash));
    let open = true;
    const close = () => {
      if (open) {
        this.snapshotting = false;
        fixed.release();
      }
      open = false;
    };
    const writeTo = async (write: (chunk: Uint8Array) => Promise<void>) => {
      try {
        await writeImage(write, { index, store: fixed, legacy, dedup, leases, alarms, auth, hash });
      } finally {
        close();
      }
    };
    return { index, writeTo, close };
  }

  /**
   * restore replaces the whole state with an image (v2, or v1 from before revisions), checking its counts and
   * hash. Parsing yields to the event loop; readers see the old state until the swap at the end.
   */
  async restore(image: Uint8Array): Promise<void> {
    const restored = await readImage(image, this.options);
    let lessor: Lessor;
    let alarms: AlarmTable;
    let auth: AuthStore;
    try {
      lessor = Lessor.restore(restored.leases, restored.leasedKeys);
      alarms = AlarmTable.restore(restored.alarms);
      auth = restored.auth === null ? new AuthStore() : AuthStore.restore(restored.auth);
    } catch (error) {
      throw new QklzlError("storage_corrupt", `kv snapshot image is invalid: ${error instanceof Error ? error.message : String(error)}`);
    }
    const storeHash = restored.legacy ? restored.store.contentHash() ^ legacyMark(legacyRevision(restored.index)) : restored.store.contentHash();
    const hash = hashHex(storeHash ^ restored.dedup.contentHash ^ lessor.contentHash ^ alarms.contentHash ^ auth.contentHash);
    if (restored.hash !== null && hash !== restored.hash) {
      throw new QklzlError("storage_corrupt", `kv snapshot image is invalid: hash ${hash}, header says ${restored.hash}`);
    }
    this.store = restored.store;
    this.store.leases = lessor;
    lessor.version = this.lessor.version + 1;
    this.lessor = lessor;
    this.dedup = restored.dedup;
    this.alarms = alarms;
    this.auth = auth;
    this.index = restored.index;
    this.legacy = restored.legacy;
    this.hashSamples.clear();
  }
}
