import type { AlarmMember, KvRequest, KvResponse } from "../../kv/index.ts";
import type { Watch, WatchMessage } from "../../kv/watch_hub.ts";
import type { Event as WatchEvent } from "../../kv/mvcc_types.ts";
import { isQklzlError, QklzlError } from "../../shared/errors.ts";
import { limits } from "../../shared/limits.ts";
import type { NodeApi, StatusJson } from "../api.ts";
import type { MemberHttp } from "../cluster_client.ts";
import {
  type EtcdBackend,
  type MemberInfo,
  type NodeInfo,
  NotSupportedError,
  type RangeRequest,
  storeRange,
  type WatchHandle,
  type WatchListener,
} from "./backend.ts";
import { text } from "./codec.ts";
import { EtcdError } from "./errors.ts";
import { onLeader } from "./forward.ts";

/**
 * node_backend.ts is the one adapter between the etcd endpoint and the node: EtcdBackend over NodeApi's MVCC
 * surface (range, kvRequest, watches, storeStats). Reads go to api.range on any member (ReadIndex, or this
 * member's state when serializable); writes are proposed with api.kvRequest and, on a follower, forwarded to
 * the leader's HTTP API (POST /txn wrapping the one operation, POST /compact), so a client never sees a
 * redirect. Leases are the node's (NodeApi.lease*, src/node/lease_keeper.ts): every lease call is answered by
 * the leader, whose clock decides expiry, so a follower forwards grants, revokes, each keep-alive, time-to-live
 * and the list to the leader's /lease routes, as the HTTP API does.
 */

export interface NodeBackendOptions {
  /** grpcAddr: this member's bound gRPC address (its clientURL in MemberList). */
  grpcAddr: string;
  requestTimeoutMs: number;
  /** progressMs: how often a watch with progress_notify gets a progress answer while idle (etcd: 10 min). */
  progressMs?: number;
  /** memberHttp: how a follower reaches the leader's HTTP API to forward a write (https when TLS is on). */
  memberHttp?: () => MemberHttp;
}

type KvRequestOf<K extends KvRequest["kind"]> = Extract<KvRequest, { kind: K }>;


/**
 * knownLeaseId: a lease id no lease can have (0, negative: qklzl's ids are positive) is not found, as etcd
 * answers it, on every member alike (the leader's /lease routes would refuse it as a bad request).
 */
function knownLeaseId(id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw new QklzlError("lease_not_found", `lease ${id} not found (lease ids are positive)`, { id });
  return id;
}

/** leaseNumber: a number of the leader's /lease answer (forwarded), which must be there. */
function leaseNumber(answer: Record<string, unknown>, field: string): number {
  const value = answer[field];
  if (typeof value !== "number") throw new QklzlError("internal", `the leader's lease answer has no number "${field}"`);
  return value;
}

/** leaderChanged: a read whose leader changed mid-round is retryable (etcd's "leader changed"). */
function leaderChanged(error: unknown): never {
  if (isQklzlError(error) && error.code === "not_leader") throw new EtcdError("leader_changed", error.message);
  throw error;
}

export function createNodeBackend(api: NodeApi, options: NodeBackendOptions): EtcdBackend {
  const members = (status: StatusJson): MemberInfo[] =>
    status.members.map((m) => ({
      node_id: m.id,
      raft_addr: m.raft_addr,
      http_addr: m.http_addr,
      grpc_addr: m.id === status.id ? options.grpcAddr : "",
      is_learner: m.role === "learner",
    }));

  const info = (): NodeInfo => {
    const status = api.status();
    const store = api.storeStats?.();
    return {
      cluster_id: status.cluster_id,
      node_id: status.id,
      leader_node_id: status.leader_id,
      raft_term: status.term,
      raft_index: status.commit_index,
      raft_applied_index: status.applied_index,
      revision: store?.revision ?? 0,
      db_size: store?.bytes ?? 0,
      is_learner: status.members.some((m) => m.id === status.id && m.role === "learner"),
      members: members(status),
      kv_hash: status.kv_hash,
    };
  };

  /**
   * propose: a KvRequest on the leader. On a follower, a put/delete_range/txn travels as POST /txn with no
   * compares and the one operation (the leader's answer in src/kv's JSON shapes, utf8), a compact as POST /compact.
   */
  const propose = async (request: KvRequestOf<"put" | "delete_range" | "txn" | "compact">): Promise<Exclude<KvResponse, { kind: "error" }>> => {
    const local = async () => (await api.kvRequest(request)).response;
    if (request.kind === "compact") {
      const answer = await onLeader(local, { path: "/compact", body: { revision: request.compact.revision } }, options.requestTimeoutMs, options.memberHttp?.());
      if ("kind" in answer) return answer as Exclude<KvResponse, { kind: "error" }>;
      return { kind: "compact", compact: { revision: Number(answer.revision), compact_revision: Number(answer.compact_revision) } };
    }
    const body =
      request.kind === "txn"
        ? request.txn
        : { compare: [], success: [request.kind === "put" ? { put: request.put } : { delete_range: request.delete_range }], failure: [] };
    const answer = await onLeader(local, { path: "/txn", body: body as unknown as Record<string, unknown> }, options.requestTimeoutMs, options.memberHttp?.());
    if ("kind" in answer) return answer as Exclude<KvResponse, { kind: "error" }>;
    const txn = answer as unknown as { succeeded: boolean; responses: Array<Record<string, unknown>>; revision: number };
    if (request.kind === "txn") return { kind: "txn", txn: { succeeded: txn.succeeded, responses: txn.responses as never, revision: txn.revision } };
    const op = txn.responses[0];
    if (request.kind === "put" && op?.put !== undefined) return { kind: "put", put: op.put as never };
    if (request.kind === "delete_range" && op?.delete_range !== undefined) return { kind: "delete_range", delete_range: op.delete_range as never };
    throw new QklzlError("internal", `the leader answered a forwarded ${request.kind} without its result`);
  };

  const unexpected = (wanted: string, got: string): never => {
    throw new QklzlError("internal", `a ${wanted} answered ${got}`);
  };

  /**
   * facts: the header's ids and term, read once per turn of the event loop (cleared by setImmediate): the
   * answers of one applied batch resolve in the same turn and share one status read instead of one each. The
   * term shown is then at most one turn old, as informative as etcd's (its header term is read after apply too);
   * revisions are never cached (each answer brings its own).
   */
  let facts: Pick<NodeInfo, "cluster_id" | "node_id" | "raft_term"> | null = null;
  const cachedFacts = () => {
    if (facts === null) {
      const status = api.status();
      facts = { cluster_id: status.cluster_id, node_id: status.id, raft_term: status.term };
      setImmediate(() => {
        facts = null;
      });
    }
    return facts;
  };
  // The node's own headerFacts reads the core's term and two constants: cheaper than status() even once per turn
  // (status() built the members, health and store hash for three fields: ~3 % of a put's leader CPU).
  const headerFacts = api.headerFacts === undefined ? cachedFacts : () => api.headerFacts!();

  /** putAnswer: a put's result from its applied answer. */
  const putAnswer = (applied: { response: KvResponse }) => (applied.response.kind === "put" ? applied.response.put : unexpected("put", applied.response.kind));

  return {
    info,
    headerFacts,

    async range(request) {
      const consistency = request.serializable === true ? "stale" : "linearizable";
      return await api.range(storeRange(request), consistency).catch(leaderChanged);
    },

    async put(request) {
      const answer = await propose({ kind: "put", put: request });
      return answer.kind === "put" ? answer.put : unexpected("put", answer.kind);
    },

    // A plain put as the raw entry of PUT /kv/KEY (api.putBytes: the value's bytes are checked and copied, never
    // made a string on any node). Not async: on the leader the answer is one hop after the apply. A follower
    // forwards it as put() does (the JSON body needs the value as text).
    putBytes(key, value) {
      return api.putBytes(key, value).then(putAnswer, (error: unknown) => {
        if (!isQklzlError(error) || error.code !== "not_leader") throw error;
        return propose({ kind: "put", put: { key, value: text(value, "value") } }).then((answer) => (answer.kind === "put" ? answer.put : unexpected("put", answer.kind)));
      });
    },

    async deleteRange(request) {
      const answer = await propose({ kind: "delete_range", delete_range: request });
      return answer.kind === "delete_range" ? answer.delete_range : unexpected("delete", answer.kind);
    },

    async txn(request) {
      const answer = await propose({ kind: "txn", txn: request });
      return answer.kind === "txn" ? (answer.txn as Awaited<ReturnType<EtcdBackend["txn"]>>) : unexpected("txn", answer.kind);
    },

    async compact(request) {
      // physical: the store is in memory and the compaction is applied when the entry is, before this answers.
      const answer = await propose({ kind: "compact", compact: { revision: request.revision } });
      return answer.kind === "compact" ? { revision: answer.compact.revision } : unexpected("compact", answer.kind);
    },

    async watch(request, listener) {
      if (api.watches === undefined) throw new NotSupportedError("this node serves no watches");
      const watches = api.watches;
      const spec = {
        key: request.key,
        ...(request.range_end !== undefined && request.range_end !== "" ? { range_end: request.range_end } : {}),
        ...(request.start_revision !== undefined ? { start_revision: request.start_revision } : {}),
        ...(request.prev_kv === true ? { prev_kv: true } : {}),
        ...(request.filters !== undefined ? { filters: request.filters } : {}),
      };
      const watch = await startAfterBarrier(() => watches.start(spec), options.requestTimeoutMs);
      return pumpWatch(watch, listener, {
        release: () => watches.release(watch),
        progressMs: request.progress_notify === true ? (options.progressMs ?? limits.watch_progress_ms) : 0,
      });
    },

    async leaseGrant(request) {
      // etcd raises a TTL below its minimum (0 and negatives included) to the minimum, and refuses one above
      // its maximum; the keeper raises anything to qklzl's minimum (>= 2 election timeouts).
      if (request.ttl > limits.lease_ttl_seconds_max) {
        throw new EtcdError("lease_ttl_too_large", `ttl ${request.ttl} is over the maximum of ${limits.lease_ttl_seconds_max} seconds`);
      }
      const ttl = Math.max(1, request.ttl);
      const id = request.id === 0 ? undefined : request.id;
      const body = id === undefined ? { ttl } : { ttl, id };
      const answer = await onLeader(() => api.leaseGrant(ttl, id), { path: "/lease/grant", body }, options.requestTimeoutMs, options.memberHttp?.());
      return { id: leaseNumber(answer, "id"), ttl: leaseNumber(answer, "ttl") };
    },

    async leaseRevoke(id) {
      knownLeaseId(id);
      const answer = await onLeader(() => api.leaseRevoke(id), { path: "/lease/revoke", body: { id } }, options.requestTimeoutMs, options.memberHttp?.());
      return { revision: leaseNumber(answer, "revision") };
    },

    async leaseKeepAlive(id) {
      knownLeaseId(id);
      const answer = await onLeader(() => api.leaseKeepAlive(id), { path: "/lease/keepalive", body: { id } }, options.requestTimeoutMs, options.memberHttp?.());
      return { id: leaseNumber(answer, "id"), ttl: leaseNumber(answer, "ttl") };
    },

    async leaseTimeToLive(id, withKeys) {
      knownLeaseId(id);
      const path = withKeys ? (`/lease/${id}?keys=true` as const) : (`/lease/${id}` as const);
      const local = async (): Promise<Record<string, unknown>> => ({ ...(await api.leaseTimeToLive(id, withKeys)) });
      const answer = await onLeader(local, { method: "GET", path }, options.requestTimeoutMs, options.memberHttp?.());
      const keys = answer.keys;
      if (keys !== undefined && !(Array.isArray(keys) && keys.every((k) => typeof k === "string"))) {
        throw new QklzlError("internal", "the leader's lease answer has keys that are not strings");
      }
      return { id: leaseNumber(answer, "id"), ttl: leaseNumber(answer, "ttl"), granted_ttl: leaseNumber(answer, "granted_ttl"), keys: keys ?? [] };
    },

    async leases() {
      const answer = await onLeader(async () => ({ leases: await api.leaseList() }), { method: "GET", path: "/leases" }, options.requestTimeoutMs, options.memberHttp?.());
      const leases = answer.leases;
      if (!Array.isArray(leases)) throw new QklzlError("internal", "the leader's lease list has no leases");
      return leases.map((lease: { id?: unknown }) => {
        if (typeof lease.id !== "number") throw new QklzlError("internal", "the leader's lease list has a lease without an id");
        return lease.id;
      });
    },

    async addMember(request) {
      const status = api.status();
      const taken = status.members.find((m) => m.raft_addr === request.raft_addr || m.http_addr === request.http_addr);
      if (taken !== undefined) throw new EtcdError("peer_url_exists", `node ${taken.id} already uses raft ${taken.raft_addr} / http ${taken.http_addr}`);
      const id = Math.max(0, ...status.members.map((m) => m.id)) + 1;
      const join = { id, raftAddr: request.raft_addr, httpAddr: request.http_addr };
      await onLeader(
        () => api.join(join),
        { path: "/join", body: { id, raft_addr: request.raft_addr, http_addr: request.http_addr } },
        options.requestTimeoutMs,
        options.memberHttp?.(),
      );
      return { node_id: id, raft_addr: request.raft_addr, http_addr: request.http_addr, grpc_addr: "", is_learner: true };
    },

    async removeMember(nodeId) {
      await onLeader(() => api.leave(nodeId), { path: "/leave", body: { id: nodeId } }, options.requestTimeoutMs, options.memberHttp?.());
    },

    async transferLeader(nodeId) {
      await onLeader(() => api.transferLeader(nodeId), { path: "/transfer-leader", body: { id: nodeId } }, options.requestTimeoutMs, options.memberHttp?.());
    },

    async snapshot() {
      if (api.backup === undefined) throw new NotSupportedError("this node cannot stream a backup");
      if (!api.isReady()) throw new QklzlError("not_ready", "this member is not ready (no leader known, or behind its commit index); a backup now could miss acknowledged writes");
      return await api.backup();
    },

    alarms() {
      return api.alarms?.list() ?? [];
    },

    async alarm(action, memberId, alarm) {
      const alarms = api.alarms;
      if (alarms === undefined) throw new NotSupportedError("this node serves no alarms");
      const local = () => (action === "activate" ? alarms.activate(memberId, alarm) : alarms.disarm({ memberId, alarm }));
      const path = action === "activate" ? "/alarms/activate" : "/alarms/disarm";
      const answer = await onLeader(local, { path, body: { member_id: memberId, alarm } }, options.requestTimeoutMs);
      return Array.isArray(answer) ? answer : ((answer as { alarms?: AlarmMember[] }).alarms ?? []);
    },

    async hashKV(revision) {
      // The store keeps one running content hash (of its current state), not one per past revision: HashKV
      // answers that hash with the revision it covers (hash_revision), whatever revision was asked for, so a
      // client comparing members compares like with like by hash_revision (README, "etcd compatibility").
      const store = api.storeStats?.();
      if (store === undefined || store.hash === "") throw new QklzlError("shutting_down", "the node has no store hash yet");
      if (revision > store.revision) throw new QklzlError("future_revision", `revision ${revision} is past the store's ${store.revision}`);
      if (revision !== 0 && revision < store.compact_revision) throw new QklzlError("compacted", `revision ${revision} is compacted (at ${store.compact_revision})`);
      return { hash: store.hash, hash_revision: store.revision, compact_revision: store.compact_revision };
    },
  };
}

/** barrier_retry_codes: a read barrier that failed because the cluster has no leader right now (an election). */
const barrier_retry_codes = new Set(["no_leader", "no_quorum", "timeout", "not_leader", "leader_changed", "transfer_in_progress"]);

/**
 * startAfterBarrier retries a watch start whose read barrier failed for want of a leader, until `timeoutMs`.
 * etcd's clients treat "etcdserver: no leader" on a watch as final (clientv3 closes the watch), while a
 * client reconnecting after its member died arrives here mid-election: it waits for the election instead,
 * and past the deadline gets "request timed out" (UNAVAILABLE: it reconnects again and resumes).
 */
async function startAfterBarrier(start: () => Promise<Watch>, timeoutMs: number): Promise<Watch> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await start();
    } catch (error) {
      if (!isQklzlError(error) || !barrier_retry_codes.has(error.code)) throw error;
      if (performance.now() + 100 > deadline) {
        throw new QklzlError("timeout", `the watch's read barrier found no leader within ${timeoutMs} ms: ${error.message}`);
      }
      await Bun.sleep(100);
    }
  }
}

/** merged_bytes_max: the most (estimated) event bytes mergeRevisions puts in one message, well below a client's 4 MiB. */
export const merged_bytes_max = 1024 * 1024;

function eventBytes(event: WatchEvent): number {
  const size = (kv: WatchEvent["kv"] | undefined) => (kv === undefined ? 0 : 32 + kv.key.length + kv.value.length);
  return size(event.kv) + size(event.prev_kv);
}

/**
 * mergeRevisions: consecutive `events` messages of one take, several whole revisions in one message (as etcd
 * batches a watch's pending events into one WatchResponse, its header at the last revision), up to
 * merged_bytes_max; a revision is never split, order is kept, progress and cancel messages stay where they are.
 * A watch that is behind (1,000 watches on a hot prefix: each take finds several revisions) then costs one
 * answer per take instead of one per revision.
 */
export function mergeRevisions(messages: WatchMessage[]): WatchMessage[] {
  if (messages.length <= 1) return messages;
  const out: WatchMessage[] = [];
  /** merging: the last message of `out` is a merge of ours (its events array is ours to extend); bytes: its size. */
  let merging: Extract<WatchMessage, { type: "events" }> | null = null;
  let bytes = 0;
  for (const message of messages) {
    const last = out.at(-1);
    if (message.type !== "events") {
      out.push(message);
      continue;
    }
    const size = message.events.reduce((sum, event) => sum + eventBytes(event), 0);
    if (last?.type === "events" && bytes + size <= merged_bytes_max) {
      if (merging !== last) out[out.length - 1] = merging = { type: "events", revision: last.revision, events: [...last.events] };
      merging.events.push(...message.events);
      merging.revision = message.revision;
      bytes += size;
    } else {
      out.push(message);
      bytes = size;
    }
  }
  return out;
}

interface PumpOptions {
  release(): void;
  /** progressMs: a progress answer after this long without one (0 = never: progress_notify not asked). */
  progressMs: number;
}

/**
 * pumpWatch moves a hub Watch's messages to the listener: it takes when the hub wakes it (the wake comes from
 * apply, so it only schedules), again at once while history is still to be read (yielding between takes), only
 * while the listener is writable (else the hub keeps the events, bounded, until resume()), and
 * asks for a progress message when progress_notify is on and nothing was delivered for progressMs.
 */
function pumpWatch(watch: Watch, listener: WatchListener, options: PumpOptions): WatchHandle {
  let done = false;
  let scheduled = false;
  let lastDelivered = performance.now();
  let timer: ReturnType<typeof setInterval> | null = null;
  const finish = () => {
    if (done) return;
    done = true;
    watch.onWake = null;
    if (timer !== null) clearInterval(timer);
    options.release();
  };
  const deliver = (message: WatchMessage) => {
    if (message.type === "events") {
      lastDelivered = performance.now();
      listener.events(message.events, message.revision);
    } else if (message.type === "progress") {
      lastDelivered = performance.now();
      listener.progress(message.revision);
    } else {
      finish();
      if (message.reason === "compacted") listener.compacted(message.compact_revision ?? message.revision);
      else if (message.reason === "shutting_down") listener.closed(message.message);
    }
  };
  const pump = () => {
    scheduled = false;
    if (done || !listener.writable()) return; // resume() schedules again once the stream drained
    const { messages, more } = watch.take();
    for (const message of mergeRevisions(messages)) {
      if (done) return;
      deliver(message);
    }
    if (more && !done) schedule();
  };
  const schedule = () => {
    if (scheduled || done) return;
    scheduled = true;
    setImmediate(pump);
  };
  watch.onWake = schedule;
  schedule();
  if (options.progressMs > 0) {
    timer = setInterval(() => {
      if (!done && performance.now() - lastDelivered >= options.progressMs) watch.requestProgress();
    }, options.progressMs);
    timer.unref?.();
  }
  return {
    revision: watch.createdRevision,
    cancel: finish,
    resume: schedule,
    requestProgress: () => {
      if (!done) watch.requestProgress();
    },
  };
}
