import type { KeyValue } from "../kv/mvcc_types.ts";
import type { KvCommand } from "../kv/types.ts";

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
  /** snapshots_installed counts snapshots received from a leader since start. */
  snapshots_installed: number;
}

export interface JoinRequest {
  id: number;
  raftAddr: string;
  httpAddr: string;
}

export interface JoinResponse {
  clusterId: string;
  members: MemberJson[];
}

/**
 * NodeApi is what the HTTP layer (src/node/http.ts) calls on the running node. Every rejection is a QklzlError
 * with a stable code: not_leader (details: leader_id, leader_http_addr), no_leader, no_quorum, timeout
 * (the outcome of a write is then unknown), shutting_down, change_in_progress, unknown_member, bad_request.
 * Methods that only a leader can do throw not_leader on followers; the HTTP layer redirects or forwards.
 */
export interface NodeApi {
  status(): StatusJson;
  /** write resolves once the command is committed and applied on this (leader) node. */
  write(command: KvCommand): Promise<{ index: number }>;
  /** read: linearizable (ReadIndex, any node: a follower asks the leader, then waits for its own apply) or stale. */
  read(key: string, consistency: Consistency): Promise<{ value: string } | null>;
  /** readKv: as read, with the key's revisions and version and the store revision at the moment of the read. */
  readKv(key: string, consistency: Consistency): Promise<{ kv: KeyValue; revision: number } | null>;
  /** join adds a learner (promoted to voter once caught up) and answers once the learner entry applied. Idempotent. */
  join(request: JoinRequest): Promise<JoinResponse>;
  /** leave removes a member (if it is this leader, leadership is handed over first). */
  leave(id: number): Promise<void>;
  transferLeader(id: number): Promise<void>;
  /** snapshot takes a snapshot now and compacts the log behind it. */
  snapshot(): Promise<{ index: number }>;
  /** metricsText: Prometheus text exposition. */
  metricsText(): string;
  /** isReady: a leader is known and this node applied up to the commit index it knew of (GET /readyz). */
  isReady(): boolean;
}

export interface HttpServerOptions {
  /** listen "host:port" (port 0 for an ephemeral port in tests). */
  listen: string;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxBodyBytes: number;
  /** requestTimeoutMs bounds forwarded requests too. */
  requestTimeoutMs: number;
}

export interface HttpServer {
  /** addr: the bound "host:port". */
  readonly addr: string;
  stop(): Promise<void>;
}
