import { assert } from "../shared/assert.ts";
import { type ErrorCode, errorHttpStatus, isQklzlError, QklzlError } from "../shared/errors.ts";
import { clientTlsFromFlags, type ClientTls, type ClientTlsFlags } from "./client_tls.ts";

/** RequestOptions: timeoutMs bounds the whole call, every hop included. */
export interface RequestOptions {
  timeoutMs: number;
  /** followLeader: follow a 307 (or a not_leader hint) to the leader; otherwise not_leader is thrown. */
  followLeader: boolean;
  /** maxHops: redirects followed at most (default 3), so two nodes that point at each other cannot loop. */
  maxHops?: number;
  /** tls: CA and client certificate for https; absent: the ones useClientTls set (the command's flags). */
  tls?: ClientTls | null;
}

/** command_tls: the TLS flags of this CLI invocation (one command per process), set by useClientTls. */
let command_tls: ClientTls | null = null;

/**
 * useClientTls reads a command's --cacert/--cert/--key for every request it makes. With any of them given,
 * a bare host:port address means https (an explicit http:// or https:// is kept as written).
 */
export function useClientTls(flags: ClientTlsFlags): void {
  command_tls = clientTlsFromFlags(flags);
}

/** command_authorization: the Authorization header of this invocation's requests (--user), set by useClientUser. */
let command_authorization: string | null = null;

/** setAuthorization: every request of this command sends this Authorization header (null: none). */
export function setAuthorization(header: string | null): void {
  command_authorization = header;
}

/** authorizationHeader: the header requests send (the watch client's own fetch uses it too). */
export function authorizationHeader(): Record<string, string> {
  return command_authorization === null ? {} : { authorization: command_authorization };
}

const hops_max_default = 3;

/** known_codes lets an error body's code become a QklzlError code only when it is one qklzl documents. */
const known_codes = new Set<string>(Object.keys(errorHttpStatus));

/**
 * baseUrl accepts "host:port", "http://host:port[/]" or "https://host:port[/]" and returns the URL without a
 * trailing slash; a bare host:port gets https when TLS flags were given (`secure`), else http.
 */
export function baseUrl(addr: string, secure = command_tls !== null): string {
  const trimmed = addr.trim().replace(/\/+$/, "");
  if (trimmed.length === 0) throw new QklzlError("bad_request", "node address is empty");
  if (/^https?:\/\//.test(trimmed)) return trimmed;
  return `${secure ? "https" : "http"}://${trimmed}`;
}

/**
 * request calls the qklzl HTTP API of the node at `addr` and returns the parsed JSON answer (text for non-JSON
 * answers such as /metrics). With followLeader it follows 307s to the leader, at most maxHops times, re-sending
 * the same method and body. Every failure is a QklzlError: the node's own error body when it sent one, else
 * timeout (no answer in time: the outcome of a write is unknown) or internal (unreachable, or a non-qklzl answer).
 */
export async function request(
  addr: string,
  method: string,
  path: string,
  body: unknown,
  options: RequestOptions,
): Promise<unknown> {
  assert(options.timeoutMs > 0, "request timeout is positive");
  assert(path.startsWith("/"), "request path is absolute");
  const hopsMax = options.maxHops ?? hops_max_default;
  assert(hopsMax >= 0, "maxHops is not negative");
  const signal = AbortSignal.timeout(options.timeoutMs);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const tls = options.tls === undefined ? command_tls : options.tls;
  let url = baseUrl(addr, tls !== null) + path;
  for (let hop = 0; ; hop++) {
    const response = await send(url, method, payload, signal, options.timeoutMs, tls);
    const answer = await readAnswer(response, url, method, options.timeoutMs);
    if (response.ok) return answer;
    const error = errorFromAnswer(response, answer, url);
    const next = error.code === "not_leader" ? leaderUrl(response, error, path) : null;
    if (!options.followLeader || next === null || hop >= hopsMax) throw error;
    url = next;
  }
}

async function send(
  url: string,
  method: string,
  payload: string | undefined,
  signal: AbortSignal,
  timeoutMs: number,
  tls: ClientTls | null,
): Promise<Response> {
  try {
    return await fetch(url, {
      ...(tls === null || !url.startsWith("https:") ? {} : { tls }),
      method,
      body: payload,
      headers: payload === undefined ? authorizationHeader() : { "content-type": "application/json", ...authorizationHeader() },
      redirect: "manual",
      signal,
    });
  } catch (error) {
    throw transportError(error, url, method, timeoutMs);
  }
}

async function readAnswer(response: Response, url: string, method: string, timeoutMs: number): Promise<unknown> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw transportError(error, url, method, timeoutMs);
  }
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.includes("json")) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new QklzlError("internal", `${url} answered HTTP ${response.status} with invalid JSON`);
  }
}

function transportError(error: unknown, url: string, method: string, timeoutMs: number): QklzlError {
  if (isQklzlError(error)) return error;
  const name = error instanceof Error ? error.name : "";
  if (name === "TimeoutError" || name === "AbortError") {
    const outcome = method === "GET" ? "" : "; the outcome of the request is unknown";
    return new QklzlError("timeout", `no answer from ${url} within ${timeoutMs} ms${outcome}`, {}, { cause: error });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new QklzlError("internal", `cannot reach qklzl node at ${url}: ${reason}`, { unreachable: true }, { cause: error });
}

/** commandTls: the TLS settings useClientTls set for this command (null: plain http). */
export function commandTls(): ClientTls | null {
  return command_tls;
}

/** errorFromResponse reads a failed answer's JSON error body into its QklzlError (streaming commands). */
export async function errorFromResponse(response: Response, url: string): Promise<QklzlError> {
  const text = await response.text().catch(() => "");
  let answer: unknown = text;
  try {
    answer = JSON.parse(text) as unknown;
  } catch {
    // not JSON: errorFromAnswer names the HTTP status
  }
  return errorFromAnswer(response, answer, url);
}

/** errorFromAnswer rebuilds the node's QklzlError from its JSON body, or names the HTTP status when there is none. */
function errorFromAnswer(response: Response, answer: unknown, url: string): QklzlError {
  if (typeof answer === "object" && answer !== null && !Array.isArray(answer)) {
    const { error: code, message, ...details } = answer as Record<string, unknown>;
    if (typeof code === "string" && known_codes.has(code)) {
      const text = typeof message === "string" ? message : `${code} (HTTP ${response.status})`;
      return new QklzlError(code as ErrorCode, text, details);
    }
    if (typeof code === "string") {
      const text = typeof message === "string" ? message : code;
      return new QklzlError("internal", `${text} (${code}, HTTP ${response.status})`, { ...details, code });
    }
  }
  return new QklzlError(codeForStatus(response.status), `${url} answered HTTP ${response.status} ${response.statusText}`.trim());
}

function codeForStatus(status: number): ErrorCode {
  if (status === 400) return "bad_request";
  if (status === 404) return "not_found";
  if (status === 405) return "method_not_allowed";
  if (status === 413) return "too_large";
  if (status === 504) return "timeout";
  return "internal";
}

/** leaderUrl: the Location of a 307 when given, else the leader_http_addr hint with the same path. */
function leaderUrl(response: Response, error: QklzlError, path: string): string | null {
  const location = response.headers.get("location");
  if (location !== null && /^https?:\/\//.test(location)) return location;
  const leaderHttpAddr = error.details.leader_http_addr;
  // Same scheme as the answer we got: every member serves http, or every member https.
  if (typeof leaderHttpAddr === "string" && leaderHttpAddr.length > 0) return baseUrl(leaderHttpAddr, response.url.startsWith("https:")) + path;
  return null;
}
