import { Metadata, status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { isQklzlError } from "../../shared/errors.ts";
import { NotSupportedError } from "./backend.ts";

/**
 * The one mapping from qklzl's error codes to what etcd's server answers (api/v3rpc/rpctypes/error.go, v3.5):
 * the gRPC code and etcd's exact message. etcd's clients recognise errors by that message text (clientv3's
 * rpctypes.Error, the etcd3 npm package's error classes) and decide from code and text whether to retry, so
 * the message is etcd's verbatim; qklzl's own explanation goes in the trailers (qklzl-error, qklzl-message).
 * Codes are the strings of QklzlError.code; the MVCC ones (compacted ... lease_not_found) arrive with the store.
 */
export interface EtcdStatus {
  code: grpcStatus;
  /** message: etcd's text, or null to pass qklzl's message through (no etcd equivalent). */
  message: string | null;
}

export const etcd_errors: Readonly<Record<string, EtcdStatus>> = {
  not_leader: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: not leader" },
  no_leader: { code: grpcStatus.UNAVAILABLE, message: "etcdserver: no leader" },
  timeout: { code: grpcStatus.UNAVAILABLE, message: "etcdserver: request timed out" },
  no_quorum: { code: grpcStatus.UNAVAILABLE, message: "etcdserver: unhealthy cluster" },
  shutting_down: { code: grpcStatus.UNAVAILABLE, message: "etcdserver: server stopped" },
  transfer_in_progress: { code: grpcStatus.UNAVAILABLE, message: "etcdserver: leader changed" },
  leader_changed: { code: grpcStatus.UNAVAILABLE, message: "etcdserver: leader changed" },
  change_in_progress: { code: grpcStatus.FAILED_PRECONDITION, message: null },
  too_large: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: request is too large" },
  bad_request: { code: grpcStatus.INVALID_ARGUMENT, message: null },
  unknown_member: { code: grpcStatus.NOT_FOUND, message: "etcdserver: member not found" },
  not_ready: { code: grpcStatus.UNAVAILABLE, message: null },
  storage_corrupt: { code: grpcStatus.DATA_LOSS, message: "etcdserver: corrupt cluster" },
  compacted: { code: grpcStatus.OUT_OF_RANGE, message: "etcdserver: mvcc: required revision has been compacted" },
  future_revision: { code: grpcStatus.OUT_OF_RANGE, message: "etcdserver: mvcc: required revision is a future revision" },
  too_many_ops: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: too many operations in txn request" },
  duplicate_key: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: duplicate key given in txn request" },
  key_not_found: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: key not found" },
  too_many_watches: { code: grpcStatus.RESOURCE_EXHAUSTED, message: null },
  lease_not_found: { code: grpcStatus.NOT_FOUND, message: "etcdserver: requested lease not found" },
  lease_exists: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: lease already exists" },
  lease_ttl_too_large: { code: grpcStatus.OUT_OF_RANGE, message: "etcdserver: too large lease TTL" },
  // etcd has no lease count limit; its "too many requests" is what a client backs off from.
  too_many_leases: { code: grpcStatus.RESOURCE_EXHAUSTED, message: "etcdserver: too many requests" },
  empty_key: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: key is not provided" },
  auth_not_enabled: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: authentication is not enabled" },
  // auth (src/kv/auth_store.ts, src/node/auth/): etcd's codes and texts, which its clients match on
  unauthenticated: { code: grpcStatus.UNAUTHENTICATED, message: "etcdserver: invalid auth token" },
  user_empty: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: user name is empty" },
  auth_failed: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: authentication failed, invalid user ID or password" },
  permission_denied: { code: grpcStatus.PERMISSION_DENIED, message: "etcdserver: permission denied" },
  root_user_missing: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: root user does not exist" },
  root_role_missing: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: root user does not have root role" },
  user_exists: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: user name already exists" },
  user_not_found: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: user name not found" },
  role_exists: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: role name already exists" },
  role_not_found: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: role name not found" },
  role_not_granted: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: role is not granted to the user" },
  permission_not_granted: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: permission is not granted to the role" },
  invalid_auth_mgmt: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: invalid auth management" },
  member_not_learner: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: can only promote a learner member" },
  learner_not_ready: {
    code: grpcStatus.FAILED_PRECONDITION,
    message: "etcdserver: can only promote a learner member which is in sync with leader",
  },
  member_bad_urls: { code: grpcStatus.INVALID_ARGUMENT, message: "etcdserver: given member URLs are invalid" },
  bad_leader_transferee: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: bad leader transferee" },
  peer_url_exists: { code: grpcStatus.FAILED_PRECONDITION, message: "etcdserver: Peer URLs already exists" },
};

/** EtcdError: a refusal the endpoint itself decides, named by a key of etcd_errors. */
export class EtcdError extends Error {
  override name = "EtcdError";
  constructor(
    readonly code: keyof typeof etcd_errors & string,
    message: string,
  ) {
    super(message);
  }
}

/** toServiceError turns whatever a handler threw into the status the client sees; unknown errors are INTERNAL. */
export function toServiceError(error: unknown): Partial<ServiceError> & { code: grpcStatus; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  let code: string;
  let explanation: string;
  let mapped: EtcdStatus;
  if (error instanceof NotSupportedError) {
    code = "unimplemented";
    explanation = error.message;
    mapped = { code: grpcStatus.UNIMPLEMENTED, message: null };
  } else if (isQklzlError(error) || error instanceof EtcdError) {
    code = error.code;
    explanation = error.message;
    mapped = etcd_errors[code] ?? { code: grpcStatus.UNKNOWN, message: null };
  } else {
    code = "internal";
    explanation = "internal error; see the node's log";
    mapped = { code: grpcStatus.INTERNAL, message: null };
  }
  metadata.set("qklzl-error", code);
  // Metadata values must be printable ASCII: qklzl messages may quote keys, so non-ASCII is escaped.
  metadata.set("qklzl-message", explanation.replace(/[^\x20-\x7e]/g, "?"));
  const details = mapped.message ?? explanation;
  return { code: mapped.code, details, message: details, metadata };
}
