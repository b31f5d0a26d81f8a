import { isQklzlError, QklzlError } from "../shared/errors.ts";

/**
 * The disk-full rule of the storage layer (issue 15, Guardrails). A write(2) that fails with ENOSPC (or EDQUOT)
 * left the page cache as it was apart from a partial tail the caller cuts off again: nothing is lost, so the
 * write may be tried again later, and the node can go on serving reads meanwhile. (Until that cut reaches the
 * disk with the next fdatasync, a power cut may keep whole records of the tail, as it may of any save in flight:
 * never acknowledged, and recovery cuts the torn rest; test/storage/power_no_space.test.ts.) An
 * fsync that fails is different and stays fatal: after a failed fsync the kernel may have dropped the dirty
 * pages and cleared the error, so a retried fsync can "succeed" without the data ever reaching the disk
 * (PostgreSQL's fsyncgate, 2018). Never retry a failed fsync; only an ENOSPC from a write, an open or a
 * truncate of new space becomes no_space.
 */

const no_space_codes = new Set(["ENOSPC", "EDQUOT"]);

/** isNoSpaceCause: an error from node:fs (or the StorageFs seam) saying the disk or the quota is full. */
export function isNoSpaceCause(error: unknown): boolean {
  return typeof error === "object" && error !== null && no_space_codes.has((error as { code?: unknown }).code as string);
}

/** noSpaceError: the error a caller of the storage gets for a write the full disk refused (nothing changed). */
export function noSpaceError(what: string, cause: unknown): QklzlError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new QklzlError("no_space", `${what}: the disk is full (${message}); nothing was written, the write can be retried once there is space`, {}, { cause });
}

/** isNoSpaceError: a QklzlError no_space from the storage (retryable: the write changed nothing). */
export function isNoSpaceError(error: unknown): boolean {
  return isQklzlError(error) && error.code === "no_space";
}

/** fsyncFailure: a failed fsync, marked so the node stops instead of retrying (details.fsync_failed). */
export function fsyncFailure(what: string, cause: unknown): QklzlError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new QklzlError("internal", `${what}: fsync failed (${message}); never retried, the node stops`, { fsync_failed: true }, { cause });
}

/** isFsyncFailure: an error fsyncFailure made. */
export function isFsyncFailure(error: unknown): boolean {
  return isQklzlError(error) && error.details.fsync_failed === true;
}
