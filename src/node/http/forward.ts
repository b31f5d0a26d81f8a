import { consola } from "consola";
import { assert } from "../../shared/assert.ts";
import { QklzlError } from "../../shared/errors.ts";

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
}

/** forwardToLeader sends the request to the leader and relays its answer (status, JSON body, Location). */
export async function forwardToLeader(options: ForwardOptions): Promise<Response> {
  assert(options.timeoutMs > 0, "forward timeout is positive");
  assert(options.pathAndQuery.startsWith("/"), "forward path is absolute");
  const url = `http://${options.leaderHttpAddr}${options.pathAndQuery}`;
  const headers: Record<string, string> = { [forwarded_header]: "1" };
  if (options.body !== null) headers["content-type"] = "application/json";
  let response: Response;
  let bodyBytes: ArrayBuffer;
  try {
    response = await fetch(url, {
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
 * forwardFailure: a timeout leaves the outcome unknown (the leader may have applied the write), so it is a 504
 * that says so; a refused connection means the leader we knew of is gone, so 503 no_leader invites a retry.
 */
function forwardFailure(error: unknown, options: ForwardOptions): QklzlError {
  const name = error instanceof Error ? error.name : "";
  const reason = error instanceof Error ? error.message : String(error);
  if (name === "TimeoutError" || name === "AbortError") {
    return new QklzlError(
      "timeout",
      `forwarding to the leader (node ${options.leaderId} at ${options.leaderHttpAddr}) timed out after ` +
        `${options.timeoutMs} ms; the outcome of the request is unknown`,
    );
  }
  logger.warn(`forward to leader node ${options.leaderId} at ${options.leaderHttpAddr} failed: ${reason}`);
  return new QklzlError(
    "no_leader",
    `the leader (node ${options.leaderId} at ${options.leaderHttpAddr}) could not be reached: ${reason}`,
    { leader_id: options.leaderId, leader_http_addr: options.leaderHttpAddr },
  );
}
