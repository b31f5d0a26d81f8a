import { consola } from "consola";
import { assert } from "../../shared/assert.ts";
import { QklzlError } from "../../shared/errors.ts";
import { memberFetchInit, memberUrl, type MemberHttp } from "../cluster_client.ts";

const logger = consola.withTag("http");

/**
 * forwarded_header marks a request one node passed to the leader. A node never forwards a request carrying it
 * again: if the leader moved meanwhile, it answers 307/503 and the original client decides, so no request loops.
 */
export const forwarded_header = "x-qklzl-forwarded";

export interface ForwardOptions {
  leaderId: number;
  leaderHttpAddr: string;
  method: string;
  pathAndQuery: string;
  /** body: the request's JSON text as received, or null. */
  body: string | null;
  timeoutMs: number;
  /** via: http or https (with the CA and this node's client certificate) to reach the leader. */
  via: MemberHttp;
  /** authorization: the client's Authorization header, relayed so the leader checks the same caller (auth). */
  authorization?: string | null;
}

/** forwardToLeader sends the request to the leader and relays its answer (status, JSON body, Location). */
export async function forwardToLeader(options: ForwardOptions): Promise<Response> {
  assert(options.timeoutMs > 0, "forward timeout is positive");
  assert(options.pathAndQuery.startsWith("/"), "forward path is absolute");
  const url = memberUrl(options.leaderHttpAddr, options.pathAndQuery, options.via);
  const headers: Record<string, string> = { [forwarded_header]: "1" };
  if (options.body !== null) headers["content-type"] = "application/json";
  if (options.authorization) headers.authorization = options.authorization;
  let response: Response;
  let bodyBytes: ArrayBuffer;
  try {
    response = await fetch(url, {
      ...memberFetchInit(options.via),
      method: options.method,
      body: options.body,
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    bodyBytes = await response.arrayBuffer();
  } catch (error) {
    throw forwardFailure(error, options);
  }
  const relayed = new Headers();
  const contentType = response.headers.get("content-type");
  if (contentType !== null) relayed.set("content-type", contentType);
  const location = response.headers.get("location");
  if (location !== null) relayed.set("location", location);
  const allow = response.headers.get("allow");
  if (allow !== null) relayed.set("allow", allow);
  return new Response(bodyBytes, { status: response.status, headers: relayed });
}

/**
 * not_sent_codes: fetch failures that happen before the request can have left this node (no connection was
 * ever made), so the leader cannot have seen it. Any other failure, ECONNRESET included, may come after the
 * request was written: the leader may have applied it.
 */
const not_sent_codes = new Set(["ECONNREFUSED", "ConnectionRefused", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "FailedToOpenSocket"]);

/**
 * forwardFailure: a timeout, or a connection that broke once the request may have been sent (reset, closed
 * before or during the answer), leaves the outcome of a write unknown (the leader may have applied it), so it
 * is a 504 that says so. Only a connection that was never made (refused, unresolvable address) means the
 * leader cannot have seen the request: 503 no_leader invites a retry.
 */
function forwardFailure(error: unknown, options: ForwardOptions): QklzlError {
  const name = error instanceof Error ? error.name : "";
  const reason = error instanceof Error ? error.message : String(error);
  const leader = `the leader (node ${options.leaderId} at ${options.leaderHttpAddr})`;
  if (name === "TimeoutError" || name === "AbortError") {
    return new QklzlError(
      "timeout",
      `forwarding to ${leader} timed out after ${options.timeoutMs} ms; the outcome of the request is unknown`,
    );
  }
  logger.warn(`forward to leader node ${options.leaderId} at ${options.leaderHttpAddr} failed: ${reason}`);
  const code = (error as { code?: unknown } | null)?.code;
  const notSent = typeof code === "string" && not_sent_codes.has(code);
  if (!notSent) {
    return new QklzlError(
      "timeout",
      `the connection to ${leader} broke once the request may have reached it (${reason}); the outcome of the request is unknown`,
    );
  }
  return new QklzlError("no_leader", `${leader} could not be reached: ${reason}`, {
    leader_id: options.leaderId,
    leader_http_addr: options.leaderHttpAddr,
  });
}
