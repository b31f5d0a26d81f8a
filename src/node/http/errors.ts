import { consola } from "consola";
import { type ErrorCode, errorHttpStatus, isQklzlError, type QklzlError } from "../../shared/errors.ts";

const logger = consola.withTag("http");

/** errorResponse builds the one error shape every route answers with: {"error":CODE,"message":TEXT,...details}. */
export function errorResponse(code: ErrorCode, message: string, details?: Record<string, unknown>, headers?: Record<string, string>): Response {
  const body = details === undefined ? { error: code, message } : { error: code, message, ...details };
  return Response.json(body, { status: errorHttpStatus[code], headers });
}

/**
 * leaderHint reads the leader's HTTP address from a not_leader error; null when the error names no usable
 * leader (the runtime may know an id but not yet an address), which the caller answers as no_leader.
 */
export function leaderHint(error: QklzlError): { leaderId: number; leaderHttpAddr: string } | null {
  const leaderId = error.details.leader_id;
  const leaderHttpAddr = error.details.leader_http_addr;
  if (typeof leaderId !== "number" || leaderId <= 0) return null;
  if (typeof leaderHttpAddr !== "string" || leaderHttpAddr.length === 0) return null;
  return { leaderId, leaderHttpAddr };
}

/**
 * qklzlErrorResponse maps a QklzlError to its HTTP answer. not_leader becomes a 307 whose Location is the leader's
 * same URL, so clients that follow redirects reach the leader while curl still shows the JSON error.
 */
export function qklzlErrorResponse(error: QklzlError, pathAndQuery: string, scheme: "http" | "https" = "http"): Response {
  if (error.code === "overloaded") {
    // RFC 9110 §10.2.3: how long to wait, in seconds; the body repeats it as retry_after_s.
    const seconds = typeof error.details.retry_after_s === "number" ? error.details.retry_after_s : 1;
    return errorResponse(error.code, error.message, error.details, { "retry-after": String(seconds) });
  }
  if (error.code !== "not_leader") return errorResponse(error.code, error.message, error.details);
  const hint = leaderHint(error);
  if (hint === null) return errorResponse("no_leader", `${error.message} (no leader is known)`);
  return errorResponse("not_leader", error.message, error.details, {
    // Every member serves the same scheme (TLS on the HTTP API is a cluster-wide choice).
    location: `${scheme}://${hint.leaderHttpAddr}${pathAndQuery}`,
  });
}

/** unexpectedErrorResponse answers a bug or an unforeseen failure: logged here, once, and a 500 without internals. */
export function unexpectedErrorResponse(error: unknown, what: string): Response {
  logger.error(`unexpected error on ${what}:`, error);
  return errorResponse("internal", "internal error; see the node's log");
}

/** toErrorResponse turns anything a handler threw into a JSON error response. */
export function toErrorResponse(error: unknown, method: string, pathAndQuery: string, scheme: "http" | "https" = "http"): Response {
  if (isQklzlError(error)) return qklzlErrorResponse(error, pathAndQuery, scheme);
  return unexpectedErrorResponse(error, `${method} ${pathAndQuery}`);
}

/** methodNotAllowed is the 405 answer, with the Allow header RFC 9110 asks for. */
export function methodNotAllowed(method: string, path: string, allow: string): Response {
  return errorResponse("method_not_allowed", `method ${method} is not allowed on ${path}; allowed: ${allow}`, undefined, {
    allow,
  });
}
