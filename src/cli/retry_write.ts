import hyperid from "hyperid";
import { isQklzlError, type QklzlError } from "../shared/errors.ts";
import { request } from "./client.ts";

// A write that carries a request id can be sent again safely: the state machine answers a retry with the
// first result and applies nothing twice. So the CLI retries the same body (same id) while the outcome is
// unknown or no leader can take it, until its --timeout.

/**
 * retry_codes: the outcome is unknown (timeout), an election or hand-over is under way, or the node was overloaded
 * (429: refused before anything was proposed, and it asks to be retried). no_quorum is not
 * retried: the leader cannot reach a majority, and the CLI fails fast on it as before.
 */
const retry_codes = new Set(["timeout", "no_leader", "transfer_in_progress", "overloaded"]);

const retry_pause_ms = 150;
/** attempt_ms_min: each attempt gets at least this long (the node answers 504 itself at its request timeout). */
const attempt_ms_min = 1500;

let makeId: (() => string) | null = null;

/** newRequestId: a hyperid (a random base plus a counter), URL-safe. */
export function newRequestId(): string {
  makeId ??= hyperid({ urlSafe: true });
  return makeId();
}

function retryable(error: unknown): error is QklzlError {
  return isQklzlError(error) && retry_codes.has(error.code);
}

/**
 * retryWrite POSTs `body` (which must hold a request_id) to `path`, following the leader, and retries on
 * retry_codes until timeoutMs is spent. The last error is thrown when time runs out.
 */
export async function retryWrite(addr: string, path: string, body: { request_id: string }, timeoutMs: number): Promise<unknown> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = deadline - performance.now();
    const attemptMs = Math.max(1, Math.min(left, Math.max(attempt_ms_min, timeoutMs / 3)));
    try {
      return await request(addr, "POST", path, body, { timeoutMs: attemptMs, followLeader: true });
    } catch (error) {
      if (!retryable(error) || deadline - performance.now() < retry_pause_ms + 50) throw error;
      await Bun.sleep(retry_pause_ms);
    }
  }
}
