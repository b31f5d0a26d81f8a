/** ErrorCode is the stable, documented set of error codes qklzl answers with (HTTP, CLI, RPC). */
export type ErrorCode =
  | "bad_request"
  | "too_large"
  | "not_found"
  | "method_not_allowed"
  | "key_not_found"
  | "not_leader"
  | "no_leader"
  | "no_quorum"
  | "not_ready"
  | "timeout"
  | "change_in_progress"
  | "incarnation_mismatch"
  | "transfer_in_progress"
  | "unknown_member"
  | "shutting_down"
  | "storage_corrupt"
  | "compacted"
  | "future_revision"
  | "duplicate_key"
  | "too_many_ops"
  | "compare_failed"
  | "too_many_watches"
  | "lease_not_found"
  | "lease_exists"
  | "too_many_leases"
  | "backup_corrupt"
  | "data_dir_not_empty"
  | "unauthenticated"
  | "auth_failed"
  | "permission_denied"
  | "auth_not_enabled"
  | "root_user_missing"
  | "root_role_missing"
  | "user_exists"
  | "user_not_found"
  | "role_exists"
  | "role_not_found"
  | "role_not_granted"
  | "permission_not_granted"
  | "invalid_auth_mgmt"
  | "internal";

/** HTTP status for each code: one map, so every layer answers the same. */
export const errorHttpStatus: Record<ErrorCode, number> = {
  bad_request: 400,
  too_large: 413,
  not_found: 404,
  method_not_allowed: 405,
  key_not_found: 404,
  not_leader: 307,
  no_leader: 503,
  no_quorum: 503,
  not_ready: 503,
  timeout: 504,
  change_in_progress: 409,
  incarnation_mismatch: 409,
  transfer_in_progress: 503,
  unknown_member: 404,
  shutting_down: 503,
  storage_corrupt: 500,
  compacted: 410,
  future_revision: 400,
  duplicate_key: 400,
  too_many_ops: 400,
  compare_failed: 412,
  too_many_watches: 503,
  lease_not_found: 404,
  lease_exists: 409,
  too_many_leases: 409,
  backup_corrupt: 422,
  data_dir_not_empty: 409,
  unauthenticated: 401,
  auth_failed: 401,
  permission_denied: 403,
  auth_not_enabled: 400,
  root_user_missing: 400,
  root_role_missing: 400,
  user_exists: 409,
  user_not_found: 404,
  role_exists: 409,
  role_not_found: 404,
  role_not_granted: 404,
  permission_not_granted: 404,
  invalid_auth_mgmt: 400,
  internal: 500,
};

const brand = Symbol.for("qklzl.error");

/** QklzlError is the one error class qklzl raises on purpose; `details` are extra JSON fields. */
export class QklzlError extends Error {
  readonly [brand] = true;
  override name = "QklzlError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get httpStatus(): number {
    return errorHttpStatus[this.code];
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.details };
  }
}

/** isQklzlError checks the brand, not instanceof, so it works across bundles. */
export function isQklzlError(value: unknown): value is QklzlError {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
