import type { Caller } from "../kv/auth_types.ts";
import type { AuthApi } from "./auth/auth_api.ts";
import type { BackupStream } from "./backup/source.ts";
import type { AlarmMember, AlarmType, KeyValue, KvRequest, KvResponse, RangeRequest, RangeResponse } from "../kv/mvcc_types.ts";
import type { HashSample } from "../kv/hash_samples.ts";
import type { KvCommand } from "../kv/types.ts";
import type { Watch, WatchSpec } from "../kv/watch_hub.ts";
import type { HttpTls, MemberHttp } from "./tls/types.ts";
import type { LeaseTtlJson } from "./lease_keeper.ts";

export type Consistency = "linearizable" | "stale";

export interface MemberJson {
  id: number;
  raft_addr: string;
  http_addr: string;
  role: "voter" | "learner";
  match_index: number;
}

/** StatusJson is the body of GET /status (issue 4 names the fields; kv_* serve `qklzl check`). */
export interface StatusJson {
  id: number;
  state: "follower" | "pre_candidate" | "candidate" | "leader";
  is_leader: boolean;
  /** leader_id is 0 when no leader is known. */
  leader_id: number;
  leader_http_addr: string;
  term: number;
  commit_index: number;
  applied_index: number;
  last_log_index: number;
  snapshot_index: number;
  /** first_index: the first entry still in the log (compaction drops whole segments, so it lags snapshot_index). */
  first_index?: number;
  raft_addr: string;
  http_addr: string;
  members: MemberJson[];
  cluster_id: string;
  /** kv_hash is a hash of the whole map at kv_hash_index (= applied_index), for replica comparison. */
  kv_hash: string;
  kv_hash_index: number;
  kv_keys: number;
  /** kv_revision / kv_compact_revision: the store revision and the compacted one (reads below it: compacted). */
  kv_revision?: number;
  kv_compact_revision?: number;
  /** snapshots_installed counts snapshots received from a leader since start. */
  snapshots_installed: number;
  /** torn_tail_bytes: bytes of a torn WAL tail (a crash mid-write) this node cut off when it started; 0: none. */
  torn_tail_bytes?: number;
  // The fields below were added after the original ones (issue 10 item 6) and come after them in the body.
  /** role: this node's place in the configuration it knows; "none" before a join took effect. */
  role?: HealthStatusJson["role"];
  /** fault_tolerance: voters that may still fail before writes stop; 0 = the next failure stops them. */
  fault_tolerance?: number;
  fault_tolerance_source?: HealthStatusJson["fault_tolerance_source"];
  silent_learners?: HealthStatusJson["silent_learners"];
  /** alarms: the raised alarms (src/node/alarms.ts); store_bytes / quota_backend_bytes: the NOSPACE quota. */
  alarms?: AlarmMember[];
  store_bytes?: number;
  quota_backend_bytes?: number;
  /** disk_full: this node's last WAL or snapshot write failed with ENOSPC and has not succeeded since. */
  disk_full?: boolean;
}

/** HealthStatusJson: what src/node/cluster_health.ts adds to GET /status (README, "Fault tolerance"). */
export interface HealthStatusJson {
  role: "voter" | "learner" | "none";
  fault_tolerance: number;
  /** leader: computed here (this node leads); relayed: the leader's own figure, fetched from it; unknown: 0 is a guess. */
  fault_tolerance_source: "leader" | "relayed" | "unknown";
  /** silent_learners: on the leader, learners not heard from for --learner-timeout-ms; empty elsewhere. */
  silent_learners: Array<{ id: number; silent_ms: number }>;
}

/** AppliedRequest: a KvRequest's log index and the state machine's answer (never an error: those are thrown). */
export interface AppliedRequest {
  index: number;
  response: Exclude<KvResponse, { kind: "error" }>;
}

export interface JoinRequest {
  id: number;
  raftAddr: string;
  httpAddr: string;
  /** incarnation: the joining node's data-directory incarnation (absent or "" from a client that sends none). */
  incarnation?: string;
  /** fresh: the joining node holds no log (a new or wiped data directory); absent means false. */
  fresh?: boolean;
}

export interface JoinResponse {
  clusterId: string;
  members: MemberJson[];
}

/**
 * NodeApi is what the HTTP layer (src/node/http/) calls on the running node, and what a gRPC endpoint
 * (src/node/grpc/) would call too. Every rejection is a QklzlError with a stable code: not_leader (details:
 * leader_id, leader_http_addr), no_leader, no_quorum, timeout (the outcome of a write is then unknown),
 * shutting_down, change_in_progress, transfer_in_progress, unknown_member, bad_request, too_large.
 * Methods that only a leader can do throw not_leader on followers; the HTTP layer redirects or forwards.
 */
export interface NodeApi {
  status(): StatusJson;
  /**
   * write resolves once the command is committed and applied on this (leader) node. A `caller` (auth on)
   * goes into the entry and apply checks its rights there (permission_denied).
   */
  write(command: KvCommand, caller?: Caller): Promise<{ index: number }>;
  /**
   * putUtf8: write() of a plain put whose value comes as its UTF-8 bytes (a large POST /kv body, read without
   * making a string of it): the same checks, the same entry, the same answer. bad_request when the bytes are
   * not valid UTF-8. `spare`: how many bytes just before `value` (in its buffer) the callee may overwrite, to
   * write the entry around the value instead of copying it (kv encodeUtf8Put); 0 lends none.
   */
  putUtf8(key: string, value: Uint8Array, spare?: number, caller?: Caller): Promise<{ index: number }>;
  /** read: linearizable (ReadIndex, any node: a follower asks the leader, then waits for its own apply) or stale. */
  read(key: string, consistency: Consistency): Promise<{ value: string } | null>;
  /** readKv: as read, with the key's revisions and version and the store revision at the moment of the read. */
  readKv(key: string, consistency: Consistency): Promise<{ kv: KeyValue; revision: number } | null>;
  /**
   * Leases (README "Leases"): all answered by the leader only (not_leader elsewhere: the HTTP layer forwards).
   * leaseGrant raises a TTL below the minimum to it and answers the TTL granted; lease_not_found when a lease
   * is unknown, revoked or expired.
   */
  leaseGrant(ttl: number, id: number | undefined): Promise<{ id: number; ttl: number }>;
  leaseRevoke(id: number): Promise<{ revision: number; deleted: number }>;
  leaseKeepAlive(id: number): Promise<{ id: number; ttl: number }>;
  leaseTimeToLive(id: number, keys: boolean): Promise<LeaseTtlJson>;
  leaseList(): Promise<{ id: number; ttl: number }[]>;
  /**
   * range: a range request (one key, [key, range_end), prefix, at a past revision...), linearizable or stale.
   * Throws compacted / future_revision (from the store) and bad_request.
   */
  range(request: RangeRequest, consistency: Consistency): Promise<RangeResponse>;
  /**
   * kvRequest proposes any KvRequest (put, delete_range, txn, compact) with an optional request id (a retry
   * with the same id is answered with the first result, not applied again) and resolves with the applied
   * answer. An apply-time refusal (compacted, future_revision, key_not_found, ...) is thrown as its QklzlError.
   */
  kvRequest(request: KvRequest, requestId?: string, caller?: Caller): Promise<AppliedRequest>;
  /**
   * putBytes: a plain put whose value is UTF-8 bytes (PUT /kv/KEY): proposed as a raw entry, so no node makes a
   * string of the value on the write path. bad_request when the bytes are not valid UTF-8, too_large past the
   * value limit; answers as kvRequest's put.
   */
  putBytes(key: string, value: Uint8Array, requestId?: string, caller?: Caller): Promise<AppliedRequest>;
  /** join adds a learner (promoted to voter once caught up) and answers once the learner entry applied. Idempotent. */
  join(request: JoinRequest): Promise<JoinResponse>;
  /** leave removes a member (if it is this leader, leadership is handed over first). */
  leave(id: number): Promise<void>;
  transferLeader(id: number): Promise<void>;
  /** snapshot takes a snapshot now and compacts the log behind it. */
  snapshot(): Promise<{ index: number }>;
  /** backup (optional): a snapshot taken now, as a backup file streamed from disk (GET /snapshot, Maintenance.Snapshot). */
  backup?(): Promise<BackupStream>;
  /** metricsText: Prometheus text exposition. */
  metricsText(): string;
  /** isReady: a leader is known and this node applied up to the commit index it knew of (GET /readyz). */
  isReady(): boolean;
  /** storeStats: the MVCC store's revisions and approximate size, read without waiting (etcd's header and Status). */
  storeStats?(): StoreStatsJson;
  /**
   * headerFacts (optional): this node's cluster id, id and Raft term, read without building status() (members,
   * health, store hash): what every etcd answer header carries besides its revision.
   */
  headerFacts?(): { cluster_id: string; node_id: number; raft_term: number };
  /** auth: users, roles, tokens (src/node/auth/); absent on an API without auth (tests' fakes): auth is then off. */
  auth?: AuthApi;
  /** watches: GET /watch (src/node/watch/); absent on an API without a store to watch (404 not_found). */
  watches?: WatchApi;
  /** alarms: GET /alarms, POST /alarms/activate|disarm, GET /hashes (src/node/alarms.ts); absent: 404 not_found. */
  alarms?: AlarmApi;
}

/**
 * AlarmApi: the replicated alarms (etcd's Maintenance.Alarm). list reads this member's applied state; activate
 * and disarm go through the log (leader only: not_leader elsewhere, which the HTTP layer forwards).
 */
export interface AlarmApi {
  list(): AlarmMember[];
  /** activate raises `alarm` for `memberId` and answers once applied (already raised: the same answer). */
  activate(memberId: number, alarm: AlarmType): Promise<AlarmMember[]>;
  /** disarm disarms the raised alarms that match (absent fields match all) and answers those it disarmed. */
  disarm(filter: { memberId?: number; alarm?: AlarmType }): Promise<AlarmMember[]>;
  /** hashes: this member's state hash at its recent sampling indexes (the corruption check compares them). */
  hashes(): HashSample[];
}

export interface StoreStatsJson {
  revision: number;
  compact_revision: number;
  /** bytes: the store's arena bytes (every kept record, heads and history); approximate, as etcd's dbSize. */
  bytes: number;
  /** hash: the content hash at `revision` (16 hex digits). */
  hash: string;
}

/** WatchApi: start a watch (after a read barrier; too_many_watches past the limit), end it, ask it for progress. */
export interface WatchApi {
  start(spec: WatchSpec): Promise<Watch>;
  release(watch: Watch): void;
  /** progress: false when no watch has that id on this node. */
  progress(id: number): boolean;
}

export interface HttpServerOptions {
  /** listen "host:port" (port 0 for an ephemeral port in tests). */
  listen: string;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxBodyBytes: number;
  /** maxTxnOps: --max-txn-ops (absent: limits.txn_ops_max). */
  maxTxnOps?: number;
  /** requestTimeoutMs bounds forwarded requests too. */
  requestTimeoutMs: number;
  /** tls: serve https with this (Bun.serve `tls`); null or absent: plain http. Replaced by HttpServer.reloadTls. */
  tls?: HttpTls | null;
  /** memberHttp: how forwards reach the leader, and the scheme of 307 Locations (default plain http). */
  memberHttp?: () => MemberHttp;
}

export interface HttpServer {
  /** addr: the bound "host:port". */
  readonly addr: string;
  stop(): Promise<void>;
  /**
   * reloadTls serves new connections with `tls`: Bun.serve cannot swap certificates in place (server.reload
   * ignores tls), so the listening server is replaced on the same port; requests in flight finish on the old one.
   */
  reloadTls(tls: HttpTls): Promise<void>;
}
