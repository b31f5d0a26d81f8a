import { grpcAuthorization } from "./auth_gate.ts";
import { consola } from "consola";
import { type ErrorCode, isQklzlError, QklzlError } from "../../shared/errors.ts";
import { type MemberHttp, memberFetchInit, memberUrl, plain_member_http } from "../cluster_client.ts";

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

/**
 * LeaderCall: what a leader-only operation sends to the leader's HTTP API when this member does not lead: a
 * POST with a JSON body, or (method GET, no body) a read only the leader answers (a lease's time to live, the
 * lease list: its expiry clock is the leader's).
 */
export type LeaderCall =
  | {
      method?: "POST";
      path: "/kv" | "/txn" | "/compact" | "/join" | "/leave" | "/transfer-leader" | "/lease/grant" | "/lease/revoke" | "/lease/keepalive" | `/auth/${string}`;
      body: Record<string, unknown>;
    }
  | { method: "GET"; path: `/lease/${number}` | `/lease/${number}?keys=true` | "/leases" };

/**
 * onLeader runs `local` (a NodeApi call that only a leader can do); on a follower it sends `call` to the leader's
 * HTTP API instead, so an etcd client talking to any member never sees a redirect. A leader that moved again
 * answers 307: the client then gets "leader changed" and retries, as it does against etcd. `via`: how members'
 * HTTP APIs are reached (https with the node's CA and client certificate when TLS is on).
 */
export async function onLeader<T>(local: () => Promise<T>, call: LeaderCall, timeoutMs: number, via: MemberHttp = plain_member_http): Promise<T | Record<string, unknown>> {
  try {
    return await local();
  } catch (error) {
    if (!isQklzlError(error) || error.code !== "not_leader") throw error;
    const leaderAddr = error.details.leader_http_addr;
    if (typeof leaderAddr !== "string" || leaderAddr === "") throw new QklzlError("no_leader", `${error.message} (no leader address is known)`);
    return await postToLeader(leaderAddr, call, timeoutMs, via);
  }
}

async function postToLeader(leaderAddr: string, call: LeaderCall, timeoutMs: number, via: MemberHttp): Promise<Record<string, unknown>> {
  let status: number;
  let reply: unknown;
  try {
    const post = call.method !== "GET";
    const response = await fetch(memberUrl(leaderAddr, call.path, via), {
      ...memberFetchInit(via),
      method: post ? "POST" : "GET",
      body: post ? JSON.stringify(call.body) : null,
      headers: post ? { "content-type": "application/json", [forwarded_header]: "1", ...grpcAuthorization() } : { [forwarded_header]: "1", ...grpcAuthorization() },
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
