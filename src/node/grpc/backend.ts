import type { AlarmMember, AlarmType } from "../../kv/mvcc_types.ts";
import type { AuthApi } from "../auth/auth_api.ts";
/**
 * EtcdBackend is everything the etcd v3 gRPC endpoint asks of the node, in etcd's own request and response
 * shapes (rpc.proto), as plain TypeScript: snake_case like the protos, keys and values as UTF-8 strings (the
 * protocol layer converts bytes), int64 counters as numbers (revisions and versions stay far below 2^53;
 * 64-bit member and cluster ids are derived in ids.ts and never pass through here).
 *
 * The KV types are src/kv's MVCC store's own where they are the same (KeyValue ... DeleteRangeResponse, Compare, the txn
 * types), and follow them elsewhere, so the store plugs in through node_backend.ts only. A method the node cannot do yet throws NotSupportedError,
 * which the endpoint answers UNIMPLEMENTED naming what is missing. Every other refusal is a QklzlError
 * (src/shared/errors.ts) whose code grpc/errors.ts maps to etcd's gRPC code and message.
 */

// The store's own shapes (src/kv/mvcc_types.ts), where gRPC asks nothing more of them; a top-level RangeRequest
// adds `serializable` (a txn's range ops are the store's: a txn is answered as a whole, linearizably).
import type { BackupStream } from "../backup/source.ts";
import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest as StoreRangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  TxnResponse,
} from "../../kv/mvcc_types.ts";

export type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeResponse,
  RequestOp,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  TxnResponse,
};

/** RangeRequest: the store's, plus how to read it. */
export interface RangeRequest extends StoreRangeRequest {
  /** serializable: answer from this member's state (no ReadIndex round); linearizable otherwise. */
  serializable?: boolean;
}

/** storeRange: the store's RangeRequest (serializable is a read option of a top-level range, not part of the request). */
export function storeRange(request: RangeRequest): Omit<RangeRequest, "serializable"> {
  const { serializable: _serializable, ...rest } = request;
  return rest;
}

export interface CompactRequest {
  revision: number;
  /** physical: etcd waits until the compaction is applied to the backend; qklzl's store is in memory. */
  physical?: boolean;
}

export interface CompactResponse {
  revision: number;
}

export interface Event {
  type: "put" | "delete";
  kv: KeyValue;
  prev_kv?: KeyValue;
}

/** WatchCreateRequest: etcd's WatchCreateRequest (filters by name; watch_id chosen by the endpoint). */
export interface WatchCreateRequest {
  key: string;
  range_end?: string;
  /** start_revision: 0 = from the next revision. */
  start_revision?: number;
  progress_notify?: boolean;
  filters?: Array<"noput" | "nodelete">;
  prev_kv?: boolean;
  fragment?: boolean;
}

/** WatchListener receives a watch's events in revision order; `compacted` ends it (etcd: compact_revision). */
export interface WatchListener {
  /** writable: false while the client's stream is full; the store then holds events until handle.resume(). */
  writable(): boolean;
  events(events: Event[], revision: number): void;
  progress(revision: number): void;
  compacted(compactRevision: number): void;
  /** closed: the node ended the watch for another reason (it is shutting down); the client should resume elsewhere. */
  closed(message: string): void;
}

export interface WatchHandle {
  /** revision: the store revision when the watch was created (the header of etcd's `created` answer). */
  readonly revision: number;
  cancel(): void;
  /** resume: the listener became writable again; deliver what the store held meanwhile. */
  resume(): void;
  /** requestProgress: the listener's progress(rev) once every event up to the current revision was delivered. */
  requestProgress(): void;
}

export interface LeaseGrant {
  /** id: 0 lets the store choose one. */
  id: number;
  ttl: number;
}

export interface LeaseTimeToLive {
  id: number;
  /** ttl: seconds left, -1 if the lease expired. */
  ttl: number;
  granted_ttl: number;
  keys: string[];
}

/** MemberInfo: one qklzl member; the endpoint derives etcd's uint64 member id from node_id and the cluster id. */
export interface MemberInfo {
  node_id: number;
  raft_addr: string;
  http_addr: string;
  /** grpc_addr: "" when not known (qklzl's membership records the raft and HTTP addresses only). */
  grpc_addr: string;
  is_learner: boolean;
}

/** NodeInfo: the facts of every ResponseHeader and of Maintenance.Status, read without waiting. */
export interface NodeInfo {
  cluster_id: string;
  node_id: number;
  /** leader_node_id: 0 when no leader is known. */
  leader_node_id: number;
  raft_term: number;
  raft_index: number;
  raft_applied_index: number;
  /** revision: the store's current revision; 0 while the node has no MVCC store (header revision unknown). */
  revision: number;
  /** db_size: bytes the store holds; 0 when the node cannot tell. */
  db_size: number;
  is_learner: boolean;
  members: MemberInfo[];
  /** kv_hash: a 64-bit content hash of the store at raft_applied_index (16 hex digits). */
  kv_hash: string;
}

export interface EtcdBackend {
  info(): NodeInfo;
  /** auth: users, roles and tokens (the Auth service, and the token check of every call); absent: auth is off. */
  auth?: AuthApi;
  /**
   * headerFacts (optional): what an answer's header needs besides its revision, cheaper than info() (which
   * reads the node's whole status: members, store hash). Absent: header() uses info().
   */
  headerFacts?(): Pick<NodeInfo, "cluster_id" | "node_id" | "raft_term">;

  range(request: RangeRequest): Promise<RangeResponse>;
  put(request: PutRequest): Promise<PutResponse>;
  /**
   * putBytes (optional): put() of a plain put (no lease, prev_kv or ignore flags) whose value is still the
   * request's bytes; the node checks they are UTF-8. Absent: the endpoint decodes the value and calls put().
   */
  putBytes?(key: string, value: Uint8Array): Promise<PutResponse>;
  deleteRange(request: DeleteRangeRequest): Promise<DeleteRangeResponse>;
  txn(request: TxnRequest): Promise<TxnResponse>;
  compact(request: CompactRequest): Promise<CompactResponse>;
  /**
   * watch: resolves once the watch exists (after the node's read barrier); the listener then gets events from
   * start_revision on until cancel(). A start revision already compacted arrives as listener.compacted().
   */
  watch(request: WatchCreateRequest, listener: WatchListener): Promise<WatchHandle>;

  leaseGrant(request: LeaseGrant): Promise<LeaseGrant>;
  /** leaseRevoke deletes the lease and its keys; resolves with the revision of the delete (the store's when there were no keys). */
  leaseRevoke(id: number): Promise<{ revision: number }>;
  /** leaseKeepAlive renews the lease once (the endpoint calls it per keep-alive request); an unknown one throws. */
  leaseKeepAlive(id: number): Promise<LeaseGrant>;
  leaseTimeToLive(id: number, withKeys: boolean): Promise<LeaseTimeToLive>;
  leases(): Promise<number[]>;

  /** addMember adds a learner (qklzl promotes it once caught up) with a fresh node id; resolves once applied. */
  addMember(request: { raft_addr: string; http_addr: string }): Promise<MemberInfo>;
  removeMember(nodeId: number): Promise<void>;
  transferLeader(nodeId: number): Promise<void>;
  /** alarms: the raised alarms (this member's applied state); alarm raises or disarms one through the leader. */
  alarms(): AlarmMember[];
  alarm(action: "activate" | "deactivate", memberId: number, alarm: AlarmType): Promise<AlarmMember[]>;
  /** hashKV: the content hash at `revision` (0 = now) and the revision it covers. */
  hashKV(revision: number): Promise<{ hash: string; hash_revision: number; compact_revision: number }>;
  /** snapshot (optional): a backup of this member streamed from disk (Maintenance.Snapshot); not_ready while not ready. */
  snapshot?(): Promise<BackupStream>;
}

/** NotSupportedError: the node cannot serve this yet (the endpoint answers UNIMPLEMENTED with the message). */
export class NotSupportedError extends Error {
  override name = "NotSupportedError";
}
