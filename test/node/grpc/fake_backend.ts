import { QklzlError } from "../../../src/shared/errors.ts";
import type {
  Compare,
  EtcdBackend,
  Event,
  KeyValue,
  NodeInfo,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  WatchCreateRequest,
  WatchListener,
} from "../../../src/node/grpc/backend.ts";

/**
 * FakeBackend: a small in-memory etcd-like store behind EtcdBackend, so the protocol code for what today's node
 * cannot do (txn, watch, leases, revisions in headers) is exercised before the MVCC store is plugged in. It is
 * only as faithful as these tests need: keys in [key, range_end), revisions, compares, events, leases without
 * expiry, a compaction floor.
 */
export class FakeBackend implements EtcdBackend {
  revision = 1;
  compacted = 0;
  readonly kvs = new Map<string, KeyValue>();
  readonly history: Array<{ revision: number; events: Event[] }> = [];
  readonly watchers = new Set<{ request: WatchCreateRequest; listener: WatchListener }>();
  readonly leasesById = new Map<number, { ttl: number; keys: Set<string> }>();
  /** cancelledKeys: the key of every watch cancelled, in order. */
  readonly cancelledKeys: string[] = [];
  /** failNext: the next call of this name throws it (to test the error mapping end to end). */
  failNext: { method: string; error: Error } | null = null;

  private maybeFail(method: string): void {
    if (this.failNext?.method !== method) return;
    const error = this.failNext.error;
    this.failNext = null;
    throw error;
  }

  info(): NodeInfo {
    return {
      cluster_id: "fake-cluster",
      node_id: 2,
      leader_node_id: 1,
      raft_term: 4,
      raft_index: 100,
      raft_applied_index: 99,
      revision: this.revision,
      db_size: 4096,
      is_learner: false,
      members: [1, 2, 3].map((id) => ({ node_id: id, raft_addr: `127.0.0.1:1200${id}`, http_addr: `127.0.0.1:800${id}`, grpc_addr: id === 2 ? "127.0.0.1:2379" : "", is_learner: id === 3 })),
      kv_hash: "00000000deadbeef",
    };
  }

  private inRange(key: string, from: string, end?: string): boolean {
    if (end === undefined || end === "") return key === from;
    if (end === "\0") return key >= from;
    return key >= from && key < end;
  }

  async range(request: RangeRequest): Promise<RangeResponse> {
    this.maybeFail("range");
    if ((request.revision ?? 0) > this.revision) throw new QklzlError("future_revision" as never, "future");
    if ((request.revision ?? 0) !== 0 && request.revision! < this.compacted) throw new QklzlError("compacted" as never, "compacted");
    let kvs = [...this.kvs.values()].filter((kv) => this.inRange(kv.key, request.key, request.range_end)).sort((a, b) => (a.key < b.key ? -1 : 1));
    const count = kvs.length;
    if (request.sort_order === "desc") kvs.reverse();
    const limit = request.limit ?? 0;
    const more = limit > 0 && kvs.length > limit;
    if (limit > 0) kvs = kvs.slice(0, limit);
    if (request.count_only) kvs = [];
    if (request.keys_only) kvs = kvs.map((kv) => ({ ...kv, value: "" }));
    return { kvs, count, more, revision: this.revision };
  }

  private apply(ops: RequestOp[], events: Event[], revision: number): ResponseOp[] {
    return ops.map((op): ResponseOp => {
      if ("put" in op) {
        const prev = this.kvs.get(op.put.key);
        const kv = { key: op.put.key, value: op.put.value, create_revision: prev?.create_revision ?? revision, mod_revision: revision, version: (prev?.version ?? 0) + 1, lease: op.put.lease ?? 0 };
        this.kvs.set(kv.key, kv);
        if (kv.lease !== 0) this.leasesById.get(kv.lease)?.keys.add(kv.key);
        events.push(prev === undefined ? { type: "put", kv } : { type: "put", kv, prev_kv: prev });
        return { put: op.put.prev_kv && prev ? { revision, prev_kv: prev } : { revision } };
      }
      if ("delete_range" in op) {
        const gone = [...this.kvs.values()].filter((kv) => this.inRange(kv.key, op.delete_range.key, op.delete_range.range_end));
        for (const kv of gone) {
          this.kvs.delete(kv.key);
          events.push({ type: "delete", kv: { key: kv.key, value: "", create_revision: 0, mod_revision: revision, version: 0, lease: 0 }, prev_kv: kv });
        }
        return { delete_range: { revision, deleted: gone.length, ...(op.delete_range.prev_kv ? { prev_kvs: gone } : {}) } };
      }
      if ("range" in op) {
        const kvs = [...this.kvs.values()].filter((kv) => this.inRange(kv.key, op.range.key, op.range.range_end));
        return { range: { kvs, count: kvs.length, more: false, revision: this.revision } };
      }
      throw new Error("nested txn not in the fake");
    });
  }

  private commit(ops: RequestOp[]): { responses: ResponseOp[]; revision: number } {
    const revision = this.revision + 1;
    const events: Event[] = [];
    const responses = this.apply(ops, events, revision);
    if (events.length > 0) {
      this.revision = revision;
      this.history.push({ revision, events });
      for (const w of this.watchers) {
        const mine = events.filter((e) => this.inRange(e.kv.key, w.request.key, w.request.range_end));
        const shown = mine.filter((e) => !(w.request.filters ?? []).includes(e.type === "put" ? "noput" : "nodelete"));
        if (shown.length > 0) w.listener.events(shown.map((e) => (w.request.prev_kv ? e : { type: e.type, kv: e.kv })), revision);
      }
    }
    return { responses, revision: this.revision };
  }

  async put(request: Parameters<EtcdBackend["put"]>[0]) {
    this.maybeFail("put");
    if ((request.lease ?? 0) !== 0 && !this.leasesById.has(request.lease!)) throw new QklzlError("lease_not_found" as never, "no lease");
    const { responses, revision } = this.commit([{ put: request }]);
    return { ...(responses[0] as { put: { revision: number } }).put, revision };
  }

  /** plainPuts: the keys put through putBytes (the endpoint's plain puts), in order. */
  readonly plainPuts: string[] = [];

  /** putBytes: a plain put with its value as bytes, checked as UTF-8 as the node does, then as put(). */
  async putBytes(key: string, value: Uint8Array) {
    this.plainPuts.push(key);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(value);
    } catch {
      throw new QklzlError("bad_request", "value is not valid UTF-8");
    }
    return this.put({ key, value: text });
  }

  async deleteRange(request: Parameters<EtcdBackend["deleteRange"]>[0]) {
    const { responses, revision } = this.commit([{ delete_range: request }]);
    const result = (responses[0] as { delete_range: { deleted: number; prev_kvs?: KeyValue[] } }).delete_range;
    return { ...result, revision };
  }

  private holds(c: Compare): boolean {
    const kv = this.kvs.get(c.key);
    const actual = c.target === "value" ? (kv?.value ?? "") : c.target === "version" ? (kv?.version ?? 0) : c.target === "create" ? (kv?.create_revision ?? 0) : c.target === "mod" ? (kv?.mod_revision ?? 0) : (kv?.lease ?? 0);
    switch (c.result) {
      case "=":
        return actual === c.value;
      case "!=":
        return actual !== c.value;
      case "<":
        return actual < c.value;
      case ">":
        return actual > c.value;
    }
  }

  async txn(request: Parameters<EtcdBackend["txn"]>[0]) {
    if (request.success.length + request.failure.length > 128) throw new QklzlError("too_many_ops" as never, "too many");
    const succeeded = request.compare.every((c) => this.holds(c));
    const { responses, revision } = this.commit(succeeded ? request.success : request.failure);
    return { succeeded, responses, revision };
  }

  async compact(request: { revision: number }) {
    if (request.revision <= this.compacted) throw new QklzlError("compacted" as never, "already compacted");
    if (request.revision > this.revision) throw new QklzlError("future_revision" as never, "future");
    this.compacted = request.revision;
    return { revision: this.revision };
  }

  async watch(request: WatchCreateRequest, listener: WatchListener) {
    const start = request.start_revision ?? 0;
    if (start !== 0 && start < this.compacted) throw new QklzlError("compacted" as never, `compacted at ${this.compacted}`);
    const entry = { request, listener };
    if (start !== 0) {
      for (const past of this.history.filter((h) => h.revision >= start)) {
        const mine = past.events.filter((e) => this.inRange(e.kv.key, request.key, request.range_end));
        if (mine.length > 0) listener.events(mine, past.revision);
      }
    }
    this.watchers.add(entry);
    return {
      revision: this.revision,
      resume: () => {},
      cancel: () => {
        if (this.watchers.delete(entry)) this.cancelledKeys.push(request.key);
      },
      requestProgress: () => listener.progress(this.revision),
    };
  }

  async leaseGrant(request: { id: number; ttl: number }) {
    const id = request.id === 0 ? 7_000 + this.leasesById.size : request.id;
    this.leasesById.set(id, { ttl: request.ttl, keys: new Set() });
    return { id, ttl: request.ttl };
  }

  private lease(id: number) {
    const lease = this.leasesById.get(id);
    if (lease === undefined) throw new QklzlError("lease_not_found" as never, `no lease ${id}`);
    return lease;
  }

  async leaseRevoke(id: number) {
    const lease = this.lease(id);
    this.leasesById.delete(id);
    return { revision: this.commit([...lease.keys].map((key) => ({ delete_range: { key } }))).revision };
  }

  /** keepAliveGate: while set, renewals wait for it (a slow leader). */
  keepAliveGate: Promise<void> | null = null;

  async leaseKeepAlive(id: number) {
    if (this.keepAliveGate !== null) await this.keepAliveGate;
    return { id, ttl: this.lease(id).ttl };
  }

  async leaseTimeToLive(id: number, withKeys: boolean) {
    const lease = this.lease(id);
    return { id, ttl: lease.ttl - 1, granted_ttl: lease.ttl, keys: withKeys ? [...lease.keys] : [] };
  }

  async leases() {
    return [...this.leasesById.keys()];
  }

  async addMember(request: { raft_addr: string; http_addr: string }) {
    return { node_id: 4, ...request, grpc_addr: "", is_learner: true };
  }

  removed: number[] = [];
  async removeMember(nodeId: number) {
    this.removed.push(nodeId);
  }

  transferredTo: number[] = [];
  async transferLeader(nodeId: number) {
    this.transferredTo.push(nodeId);
  }

  raised: { member_id: number; alarm: "NOSPACE" | "CORRUPT" }[] = [];

  alarms() {
    return [...this.raised];
  }

  async alarm(action: "activate" | "deactivate", memberId: number, alarm: "NOSPACE" | "CORRUPT") {
    const found = this.raised.filter((a) => a.member_id === memberId && a.alarm === alarm);
    if (action === "activate") {
      if (found.length === 0) this.raised.push({ member_id: memberId, alarm });
      return [{ member_id: memberId, alarm }];
    }
    this.raised = this.raised.filter((a) => !(a.member_id === memberId && a.alarm === alarm));
    return found;
  }

  async hashKV(revision: number) {
    return { hash: "00000000deadbeef", hash_revision: revision || this.revision, compact_revision: this.compacted };
  }
}
