import type { AuthRequest, AuthResponse } from "./auth_types.ts";

/**
 * The data model of etcd v3 (api_guarantees, rpc.proto), in snake_case as the JSON API speaks it. Keys and
 * values are strings (UTF-8 on the wire); keys are ordered by code point, which is UTF-8 byte order.
 */

/** KeyValue is one key at one revision (mvccpb.KeyValue). */
export interface KeyValue {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  /** version: 1 on create, +1 per put, reset by delete. */
  version: number;
  /** lease: 0 when the key has none (the leases issue fills it). */
  lease: number;
}

export type SortTarget = "key" | "create" | "mod" | "version" | "value";
export type SortOrder = "none" | "asc" | "desc";

/**
 * RangeRequest: `key` alone is one key; with `range_end` the keys in [key, range_end); range_end "\0" means
 * every key >= key (from-key); key "\0" with range_end "\0" is every key. `revision` 0 is the current one.
 */
export interface RangeRequest {
  key: string;
  range_end?: string;
  /** limit: 0 = no limit. */
  limit?: number;
  revision?: number;
  sort_order?: SortOrder;
  sort_target?: SortTarget;
  keys_only?: boolean;
  count_only?: boolean;
  /** Filters (0 = none), inclusive. */
  min_mod_revision?: number;
  max_mod_revision?: number;
  min_create_revision?: number;
  max_create_revision?: number;
}

export interface RangeResponse {
  kvs: KeyValue[];
  /** count: the keys in the range at that revision, before the min/max filters (as etcd). */
  count: number;
  /** more: there are matching keys past the ones returned (limit or the response-bytes cap). */
  more: boolean;
  /** revision: the store's current revision (etcd's header.revision), not the one read at. */
  revision: number;
}

export interface PutRequest {
  key: string;
  value: string;
  /**
   * value_bytes: the value as UTF-8 bytes, set only on a raw put decoded from its log entry (kv/bytes_put.ts):
   * the store copies these into its arena, and `value` is decoded from them only if something reads it.
   */
  value_bytes?: Uint8Array;
  lease?: number;
  prev_kv?: boolean;
  /** ignore_value / ignore_lease: keep the key's current value / lease; the key must exist. */
  ignore_value?: boolean;
  ignore_lease?: boolean;
}

export interface PutResponse {
  revision: number;
  prev_kv?: KeyValue;
}

export interface DeleteRangeRequest {
  key: string;
  range_end?: string;
  prev_kv?: boolean;
}

export interface DeleteRangeResponse {
  revision: number;
  deleted: number;
  prev_kvs?: KeyValue[];
}

/** CompareTarget: "lease" compares the key's lease id (0 = none), as etcd's Compare LEASE. */
export type CompareTarget = "value" | "version" | "create" | "mod" | "lease";
export type CompareResult = "=" | "!=" | "<" | ">";

/** Compare: every key in the target (one key, or [key, range_end)) must satisfy it (etcd 3.5). */
export interface Compare {
  key: string;
  range_end?: string;
  target: CompareTarget;
  result: CompareResult;
  /** value is a string for target "value", a revision, version or lease id otherwise. */
  value: string | number;
}

export type RequestOp =
  | { range: RangeRequest }
  | { put: PutRequest }
  | { delete_range: DeleteRangeRequest }
  | { txn: TxnRequest };

export type ResponseOp =
  | { range: RangeResponse }
  | { put: PutResponse }
  | { delete_range: DeleteRangeResponse }
  | { txn: TxnResponse };

export interface TxnRequest {
  compare: Compare[];
  success: RequestOp[];
  failure: RequestOp[];
}

export interface TxnResponse {
  succeeded: boolean;
  responses: ResponseOp[];
  revision: number;
}

export interface CompactRequest {
  revision: number;
}

export interface CompactResponse {
  revision: number;
  compact_revision: number;
}

/** LeaseGrantRequest: the id (chosen by the proposing leader when the client named none) and TTL in seconds. */
export interface LeaseGrantRequest {
  id: number;
  ttl: number;
}

export interface LeaseGrantResponse {
  id: number;
  ttl: number;
  revision: number;
}

/** LeaseRevokeRequest: revoke (or, proposed by the leader, expire) a lease: its keys are deleted in one revision. */
export interface LeaseRevokeRequest {
  id: number;
}

export interface LeaseRevokeResponse {
  revision: number;
  /** deleted: the keys that were attached to the lease. */
  deleted: number;
}

/** AlarmType: etcd's alarm types (rpc.proto AlarmType). */
export type AlarmType = "NOSPACE" | "CORRUPT";

/** AlarmMember: one raised alarm (etcd's AlarmMember): the member it is about and its type. */
export interface AlarmMember {
  member_id: number;
  alarm: AlarmType;
}

/**
 * AlarmRequest raises or disarms an alarm through the log (etcd's AlarmRequest ACTIVATE / DEACTIVATE; GET is
 * a read). member_id 0 in a disarm means every member.
 */
export interface AlarmRequest {
  action: "activate" | "deactivate";
  member_id: number;
  alarm: AlarmType;
}

export interface AlarmResponse {
  /** alarms: the alarms the request raised or disarmed. */
  alarms: AlarmMember[];
}

/** Event is one change of one key (mvccpb.Event); a txn's events share its revision. */
export interface Event {
  type: "put" | "delete";
  /** kv: after the change; for a delete only key and mod_revision are set (a tombstone). */
  kv: KeyValue;
  prev_kv?: KeyValue;
}

/**
 * KvRequest is what one log entry asks of the state machine. `compact` is also what the leader will propose
 * for duration-based retention (issue 12, later); revision-count retention runs inside apply.
 */
export type KvRequest =
  | { kind: "put"; put: PutRequest }
  | { kind: "delete_range"; delete_range: DeleteRangeRequest }
  | { kind: "txn"; txn: TxnRequest }
  | { kind: "compact"; compact: CompactRequest }
  | { kind: "lease_grant"; lease_grant: LeaseGrantRequest }
  | { kind: "lease_revoke"; lease_revoke: LeaseRevokeRequest }
  | { kind: "alarm"; alarm: AlarmRequest };

/** EntryRequest: what a log entry may ask: a KvRequest, or an auth change (auth_store.ts; never from a client's KV call). */
export type EntryRequest = KvRequest | { kind: "auth"; auth: AuthRequest };

/** ApplyError is a refusal decided at apply time (deterministic on every replica); nothing changed. */
export interface ApplyError {
  error: string;
  message: string;
  details?: Record<string, unknown>;
}

export type KvResponse =
  | { kind: "put"; put: PutResponse }
  | { kind: "delete_range"; delete_range: DeleteRangeResponse }
  | { kind: "txn"; txn: TxnResponse }
  | { kind: "compact"; compact: CompactResponse }
  | { kind: "lease_grant"; lease_grant: LeaseGrantResponse }
  | { kind: "lease_revoke"; lease_revoke: LeaseRevokeResponse }
  | { kind: "alarm"; alarm: AlarmResponse }
  | { kind: "auth"; auth: AuthResponse }
  | { kind: "error"; error: ApplyError };
