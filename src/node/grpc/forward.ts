import { consola } from "consola";
import { type ErrorCode, isQklzlError, QklzlError } from "../../shared/errors.ts";

const log = consola.withTag("grpc");

/**
 * forwarded_header is the HTTP API's mark of a request one node passed to the leader (src/node's HTTP forward
 * uses the same name): the leader never forwards it again, so a request moves one hop at most.
 */
const forwarded_header = "x-qklzl-forwarded";

/**
 * not_sent_codes: fetch failures from before the request can have left this node; anything else may come after
 * the leader got it, so the outcome is unknown (timeout), as the HTTP API decides it.
 */
const not_sent_codes = new Set(["ECONNREFUSED", "ConnectionRefused", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "FailedToOpenSocket"]);

/** LeaderCall: what a leader-only operation sends to the leader's HTTP API when this member does not lead. */
export interface LeaderCall {
  path: "/kv" | "/txn" | "/compact" | "/join" | "/leave" | "/transfer-leader" | "/alarms/activate" | "/alarms/disarm";
  body: Record<string, unknown>;
}

/**
 * onLeader runs `local` (a NodeApi call that only a leader can do); on a follower it sends `call` to the leader's
 * HTTP API instead, so an etcd client talking to any member never sees a redirect. A leader that moved again
 * answers 307: the client then gets "leader changed" and retries, as it does against etcd.
 */
export async function onLeader<T>(local: () => Promise<T>, call: LeaderCall, timeoutMs: number): Promise<T | Record<string, unknown>> {
  try {
    return await local();
  } catch (error) {
    if (!isQklzlError(error) || error.code !== "not_leader") throw error;
    const leaderAddr = error.details.leader_http_addr;
    if (typeof leaderAddr !== "string" || leaderAddr === "") throw new QklzlError("no_leader", `${error.message} (no leader address is known)`);
    return await postToLeader(leaderAddr, call, timeoutMs);
  }
}

async function postToLeader(leaderAddr: string, call: LeaderCall, timeoutMs: number): Promise<Record<string, unknown>> {
  let status: number;
  let reply: unknown;
  try {
    const response = await fetch(`http://${leaderAddr}${call.path}`, {
      method: "POST",
      body: JSON.stringify(call.body),
      headers: { "content-type": "application/json", [forwarded_header]: "1" },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.status;
    reply = await response.json().catch(() => null);
  } catch (error) {
    throw forwardFailure(error, leaderAddr, timeoutMs);
  }
  const body = typeof reply === "object" && reply !== null ? (reply as Record<string, unknown>) : {};
  if (status === 200) return body;
  const code = typeof body.error === "string" ? body.error : "internal";
  const message = typeof body.message === "string" ? body.message : `the leader at ${leaderAddr} answered HTTP ${status}`;
  if (code === "not_leader") throw new QklzlError("transfer_in_progress", `the leader moved while forwarding: ${message}`);
  throw new QklzlError(code as ErrorCode, message);
}

function forwardFailure(error: unknown, leaderAddr: string, timeoutMs: number): QklzlError {
  const name = error instanceof Error ? error.name : "";
  const reason = error instanceof Error ? error.message : String(error);
  if (name === "TimeoutError" || name === "AbortError") {
    return new QklzlError("timeout", `forwarding to the leader at ${leaderAddr} timed out after ${timeoutMs} ms; the outcome is unknown`);
  }
  log.warn(`forward to the leader at ${leaderAddr} failed: ${reason}`);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && not_sent_codes.has(code)) {
    return new QklzlError("no_leader", `the leader at ${leaderAddr} could not be reached: ${reason}`);
  }
  return new QklzlError("timeout", `the connection to the leader at ${leaderAddr} broke once the request may have reached it (${reason}); the outcome is unknown`);
}
