/**
 * A deliberately naive reference model of the MVCC store: every kept version of every key in one flat
 * array, every read a filter over it. No index, no chains, no arena: slow and obviously right, to check
 * src/kv against (STYLE §7 rule 5: "checked against a dumb twin").
 */
import type {
  Compare,
  Event,
  KeyValue,
  KvRequest,
  KvResponse,
  PutRequest,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from "../../src/kv/index.ts";
import { limits } from "../../src/shared/limits.ts";

export interface ModelRecord {
  key: string;
  value: string;
  create: number;
  mod: number;
  sub: number;
  version: number;
  lease: number;
  tombstone: boolean;
}

export interface ModelOptions {
  retentionRevisions: number;
  historyBytesMax: number;
  rangeBytesMax: number;
  txnOpsMax: number;
}

/** The arena's header: 28 bytes, +8 when create_revision differs from mod_revision, +8 with a lease. */
function recordHeader(r: ModelRecord): number {
  return 28 + (r.create !== r.mod ? 8 : 0) + (r.lease !== 0 ? 8 : 0);
}

/** UTF-8 byte order, the plain way (src/kv compares UTF-16 code units with a fix-up). */
export function cmp(a: string, b: string): number {
  return Buffer.compare(bytesOf(a), bytesOf(b));
}

const encoded = new Map<string, Buffer>();
function bytesOf(s: string): Buffer {
  let b = encoded.get(s);
  if (b === undefined) {
    b = Buffer.from(s, "utf8");
    if (encoded.size < 10_000) encoded.set(s, b);
  }
  return b;
}

function utf8(s: string): number {
  return bytesOf(s).length;
}

export function covers(key: string, start: string, end: string | undefined): boolean {
  if (end === undefined || end === "") return key === start;
  if (end === "\0") return cmp(key, start) >= 0;
  return cmp(key, start) >= 0 && cmp(key, end) < 0;
}

export class Refusal {
  constructor(
    readonly error: string,
    readonly details: Record<string, unknown>,
  ) {}
}

export class Model {
  records: ModelRecord[] = [];
  revision = 1;
  compacted = 0;
  dedup = new Map<string, KvResponse>();
  /** leases: granted lease id -> TTL (the keys of a lease are the live keys whose newest record names it). */
  leases = new Map<number, number>();

  constructor(readonly options: ModelOptions) {}

  clone(): Model {
    const copy = new Model(this.options);
    copy.records = this.records.map((r) => ({ ...r }));
    copy.revision = this.revision;
    copy.compacted = this.compacted;
    copy.dedup = new Map(this.dedup);
    copy.leases = new Map(this.leases);
    return copy;
  }

  private keysOf: { records: ModelRecord[]; length: number; keys: string[] } | null = null;

  /** keys: every key with a kept record, in order (cached until the records change). */
  keys(): string[] {
    const c = this.keysOf;
    if (c !== null && c.records === this.records && c.length === this.records.length) return c.keys;
    const keys = [...new Set(this.records.map((r) => r.key))].sort(cmp);
    this.keysOf = { records: this.records, length: this.records.length, keys };
    return keys;
  }

  /** version: the key's newest record with mod <= revision, or null. */
  version(key: string, revision: number): ModelRecord | null {
    let best: ModelRecord | null = null;
    for (const r of this.records) if (r.key === key && r.mod <= revision && (best === null || r.mod > best.mod)) best = r;
    return best;
  }

  kvAt(key: string, revision: number): KeyValue | null {
    const r = this.version(key, revision);
    return r === null || r.tombstone ? null : kvOf(r);
  }

  liveKeys(): number {
    return this.keys().filter((k) => this.kvAt(k, this.revision) !== null).length;
  }

  checkRevision(revision: number): void {
    if (revision > this.revision) throw new Refusal("future_revision", { revision, current_revision: this.revision });
    if (revision > 0 && revision < this.compacted) throw new Refusal("compacted", { revision, compact_revision: this.compacted });
  }

  range(q: RangeRequest): RangeResponse {
    this.checkRevision(q.revision ?? 0);
    const at = q.revision || this.revision;
    const inRange = this.keys()
      .filter((k) => covers(k, q.key, q.range_end))
      .map((k) => this.kvAt(k, at))
      .filter((kv): kv is KeyValue => kv !== null);
    const count = inRange.length;
    if (q.count_only) return { kvs: [], count, more: false, revision: this.revision };
    let matched = inRange.filter(
      (kv) =>
        (!q.min_mod_revision || kv.mod_revision >= q.min_mod_revision) &&
        (!q.max_mod_revision || kv.mod_revision <= q.max_mod_revision) &&
        (!q.min_create_revision || kv.create_revision >= q.min_create_revision) &&
        (!q.max_create_revision || kv.create_revision <= q.max_create_revision),
    );
    const target = q.sort_target ?? "key";
    const order = q.sort_order === "none" || q.sort_order === undefined ? (target === "key" ? "none" : "asc") : q.sort_order;
    if (order !== "none") {
      const field = (kv: KeyValue): number | string =>
        ({ key: kv.key, value: kv.value, create: kv.create_revision, mod: kv.mod_revision, version: kv.version })[target];
      const sign = order === "desc" ? -1 : 1;
      matched = matched
        .map((kv, i) => ({ kv, i }))
        .sort((a, b) => {
          const x = field(a.kv);
          const y = field(b.kv);
          const c = typeof x === "string" ? cmp(x, y as string) : x - (y as number);
          return c !== 0 ? sign * c : a.i - b.i; // ties keep key order
        })
        .map((e) => e.kv);
    }
    const limited = q.limit ? matched.slice(0, q.limit) : matched;
    const kvs: KeyValue[] = [];
    let bytes = 0;
    for (const kv of limited) {
      const size = utf8(kv.key) + (q.keys_only ? 0 : utf8(kv.value));
      if (kvs.length > 0 && bytes + size > this.options.rangeBytesMax) break;
      bytes += size;
      kvs.push(q.keys_only ? { ...kv, value: "" } : kv);
    }
    return { kvs, count, more: matched.length > kvs.length, revision: this.revision };
  }

  /** apply: one log entry's request, with the optional request id; answers what the store must answer. */
  apply(request: KvRequest, requestId: string | null): KvResponse {
    if (requestId !== null && this.dedup.has(requestId)) return clone(this.dedup.get(requestId)!);
    let response: KvResponse;
    const saved = { records: this.records.slice(), revision: this.revision, compacted: this.compacted, leases: new Map(this.leases) };
    try {
      response = this.execute(request);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      Object.assign(this, saved);
      response = { kind: "error", error: { error: error.error, message: "", details: error.details } };
    }
    if (requestId !== null) this.dedup.set(requestId, clone(response));
    return response;
  }

  private execute(request: KvRequest): KvResponse {
    if (request.kind === "compact") {
      const rev = request.compact.revision;
      if (rev <= this.compacted) throw new Refusal("compacted", { revision: rev, compact_revision: this.compacted });
      this.checkRevision(rev);
      this.compact(rev);
      return { kind: "compact", compact: { revision: this.revision, compact_revision: this.compacted } };
    }
    if (request.kind === "lease_grant") {
      const { id, ttl } = request.lease_grant;
      if (this.leases.has(id)) throw new Refusal("lease_exists", { id });
      this.leases.set(id, ttl);
      return { kind: "lease_grant", lease_grant: { id, ttl, revision: this.revision } };
    }
    const w = { revision: this.revision + 1, sub: 0 };
    let response: KvResponse;
    if (request.kind === "lease_revoke") {
      const id = request.lease_revoke.id;
      if (!this.leases.has(id)) throw new Refusal("lease_not_found", { id });
      const attached = this.keys().filter((k) => this.kvAt(k, Number.POSITIVE_INFINITY)?.lease === id);
      for (const key of attached) this.deleteRange(w, key, undefined, false);
      this.leases.delete(id);
      response = { kind: "lease_revoke", lease_revoke: { revision: 0, deleted: attached.length } };
    } else if (request.kind === "put") {
      this.checkPut(request.put);
      response = { kind: "put", put: this.put(w, request.put) };
    } else if (request.kind === "delete_range") {
      const d = request.delete_range;
      response = { kind: "delete_range", delete_range: this.deleteRange(w, d.key, d.range_end, d.prev_kv === true) };
    } else if (request.kind === "alarm") {
      throw new Error("mvcc model: alarms are not modelled (kv/alarms.ts has its own tests)");
    } else {
      const path = this.path(request.txn);
      this.precheck(request.txn, path);
      response = { kind: "txn", txn: this.runTxn(request.txn, path, w) };
    }
    if (w.sub > 0) {
      this.revision = w.revision;
      this.autoCompact();
    }
    if (response.kind === "txn") stamp(response.txn, this.revision);
    if (response.kind === "delete_range") response.delete_range.revision = this.revision;
    if (response.kind === "lease_revoke") response.lease_revoke.revision = this.revision;
    return response;
  }

  private checkPut(p: PutRequest): void {
    if (p.lease && !p.ignore_lease && !this.leases.has(p.lease)) throw new Refusal("lease_not_found", { id: p.lease });
    if ((p.ignore_value || p.ignore_lease) && this.kvAt(p.key, Number.POSITIVE_INFINITY) === null) {
      throw new Refusal("key_not_found", { key: p.key });
    }
  }

  private put(w: { revision: number; sub: number }, p: PutRequest): { revision: number; prev_kv?: KeyValue } {
    const before = this.kvAt(p.key, Number.POSITIVE_INFINITY);
    this.records.push({
      key: p.key,
      value: p.ignore_value ? before!.value : p.value,
      create: before?.create_revision ?? w.revision,
      mod: w.revision,
      sub: w.sub++,
      version: (before?.version ?? 0) + 1,
      lease: p.ignore_lease ? before!.lease : p.lease ?? 0,
      tombstone: false,
    });
    return p.prev_kv && before !== null ? { revision: w.revision, prev_kv: before } : { revision: w.revision };
  }

  private deleteRange(w: { revision: number; sub: number }, key: string, end: string | undefined, withPrev: boolean) {
    const victims = this.keys()
      .filter((k) => covers(k, key, end))
      .map((k) => this.kvAt(k, Number.POSITIVE_INFINITY))
      .filter((kv): kv is KeyValue => kv !== null);
    for (const kv of victims) {
      this.records.push({ key: kv.key, value: "", create: 0, mod: w.revision, sub: w.sub++, version: 0, lease: 0, tombstone: true });
    }
    return withPrev ? { revision: w.revision, deleted: victims.length, prev_kvs: victims } : { revision: w.revision, deleted: victims.length };
  }

  holds(c: Compare): boolean {
    const kvs = this.keys()
      .filter((k) => covers(k, c.key, c.range_end))
      .map((k) => this.kvAt(k, Number.POSITIVE_INFINITY))
      .filter((kv): kv is KeyValue => kv !== null);
    const test = (diff: number) => ({ "=": diff === 0, "!=": diff !== 0, "<": diff < 0, ">": diff > 0 })[c.result];
    if (kvs.length === 0) return c.target === "value" ? false : test(0 - Number(c.value));
    return kvs.every((kv) => {
      if (c.target === "value") return test(cmp(kv.value, String(c.value)));
      const actual = { version: kv.version, create: kv.create_revision, mod: kv.mod_revision, lease: kv.lease }[c.target];
      return test(actual - Number(c.value));
    });
  }

  private path(txn: TxnRequest): { ok: boolean; nested: unknown[] } {
    const ok = txn.compare.every((c) => this.holds(c));
    return { ok, nested: (ok ? txn.success : txn.failure).filter((op) => "txn" in op).map((op) => this.path((op as { txn: TxnRequest }).txn)) };
  }

  private precheck(txn: TxnRequest, path: { ok: boolean; nested: unknown[] }): void {
    let n = 0;
    for (const op of path.ok ? txn.success : txn.failure) {
      if ("range" in op) this.checkRevision(op.range.revision ?? 0);
      if ("put" in op) this.checkPut(op.put);
      if ("txn" in op) this.precheck(op.txn, path.nested[n++] as { ok: boolean; nested: unknown[] });
    }
  }

  private runTxn(txn: TxnRequest, path: { ok: boolean; nested: unknown[] }, w: { revision: number; sub: number }): TxnResponse {
    const responses: ResponseOp[] = [];
    let n = 0;
    for (const op of path.ok ? txn.success : txn.failure) {
      if ("range" in op) {
        // A range inside a txn sees the txn's own earlier writes.
        const saved = this.revision;
        if (w.sub > 0) this.revision = w.revision;
        const r = this.range({ ...op.range });
        this.revision = saved;
        responses.push({ range: r });
      } else if ("put" in op) responses.push({ put: this.put(w, op.put) });
      else if ("delete_range" in op) {
        const d = op.delete_range;
        responses.push({ delete_range: this.deleteRange(w, d.key, d.range_end, d.prev_kv === true) });
      } else responses.push({ txn: this.runTxn(op.txn, path.nested[n++] as { ok: boolean; nested: unknown[] }, w) });
    }
    return { succeeded: path.ok, responses, revision: 0 };
  }

  /** compact: per key, drop the versions at or below rev except the newest one there, and that one if a tombstone. */
  compact(rev: number): void {
    const keep: ModelRecord[] = [];
    for (const key of this.keys()) {
      const mine = this.records.filter((r) => r.key === key);
      const floor = this.version(key, rev);
      for (const r of mine) {
        if (r.mod > rev) keep.push(r);
        else if (r === floor && !r.tombstone) keep.push(r);
      }
    }
    this.records = keep;
    this.compacted = rev;
  }

  historyBytes(): number {
    let bytes = 0;
    for (const key of this.keys()) {
      const mine = this.records.filter((r) => r.key === key);
      const newest = Math.max(...mine.map((r) => r.mod));
      for (const r of mine) if (r.mod !== newest) bytes += recordHeader(r) + utf8(r.value);
    }
    return bytes;
  }

  private autoCompact(): void {
    const { retentionRevisions: keep, historyBytesMax } = this.options;
    if (keep > 0) {
      const slack = Math.max(1, Math.min(Math.floor(keep / 10), limits.compaction_batch_revisions));
      if (this.revision - this.compacted >= keep + slack) this.compact(this.revision - keep);
    }
    if (this.historyBytes() > historyBytesMax && this.revision > this.compacted) {
      this.compact(this.compacted + Math.min(Math.ceil((this.revision - this.compacted) / 2), limits.compaction_batch_revisions));
    }
  }

  /** events: every kept change with revision in [from, to], in (revision, sub) order, with prev_kv. */
  events(from: number, to: number): Event[] {
    return this.records
      .filter((r) => r.mod >= from && r.mod <= to)
      .sort((a, b) => a.mod - b.mod || a.sub - b.sub)
      .map((r) => {
        const prev = this.kvAt(r.key, r.mod - 1);
        const kv = r.tombstone ? { key: r.key, value: "", create_revision: 0, mod_revision: r.mod, version: 0, lease: 0 } : kvOf(r);
        const event: Event = { type: r.tombstone ? "delete" : "put", kv };
        if (prev !== null) event.prev_kv = prev;
        return event;
      });
  }

  /** duplicateKey: a key that some path of the txn writes twice (put twice, or put inside a deleted range). */
  duplicateKey(txn: TxnRequest): string | null {
    for (const list of [txn.success, txn.failure]) {
      for (const ops of paths(list)) {
        const puts = ops.filter((op): op is { put: PutRequest } => "put" in op).map((op) => op.put.key);
        const dels = ops.filter((op) => "delete_range" in op).map((op) => (op as { delete_range: { key: string; range_end?: string } }).delete_range);
        for (let i = 0; i < puts.length; i++) {
          if (puts.indexOf(puts[i]!) !== i) return puts[i]!;
          if (dels.some((d) => covers(puts[i]!, d.key, d.range_end))) return puts[i]!;
        }
      }
    }
    return null;
  }
}

/** paths: every list of non-txn operations one execution of `ops` can run (each nested txn: either branch). */
function paths(ops: RequestOp[]): RequestOp[][] {
  let out: RequestOp[][] = [[]];
  for (const op of ops) {
    if (!("txn" in op)) {
      out = out.map((p) => [...p, op]);
      continue;
    }
    const branches = [...paths(op.txn.success), ...paths(op.txn.failure)];
    out = out.flatMap((p) => branches.map((b) => [...p, ...b]));
  }
  return out;
}

function kvOf(r: ModelRecord): KeyValue {
  return { key: r.key, value: r.value, create_revision: r.create, mod_revision: r.mod, version: r.version, lease: r.lease };
}

function stamp(t: TxnResponse, revision: number): void {
  t.revision = revision;
  for (const r of t.responses) {
    if ("range" in r) r.range.revision = revision;
    else if ("put" in r) r.put.revision = revision;
    else if ("delete_range" in r) r.delete_range.revision = revision;
    else stamp(r.txn, revision);
  }
}

function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}
