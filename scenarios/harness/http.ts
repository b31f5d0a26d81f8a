// http.ts: a small HTTP client for the node API. It never follows redirects (a 307 from a follower is an answer
// to look at), never reuses connections (nodes restart on the same port) and never throws: a refused connection
// or a client-side timeout comes back as status 0 with `networkError` set.

export interface HttpReply {
  /** status: the HTTP status, or 0 when no answer came (connection refused, reset, client timeout). */
  status: number;
  /** json: the parsed body when it was JSON, else null. */
  json: Record<string, unknown> | null;
  text: string;
  /** location: the Location header (redirects), or null. */
  location: string | null;
  headers: Headers | null;
  networkError: string | null;
  elapsedMs: number;
}

export interface RequestOptions {
  method?: string;
  /** body: a value to send as JSON, or raw text/bytes sent as they are. */
  json?: unknown;
  raw?: string | Uint8Array;
  contentType?: string;
  timeoutMs?: number;
}

/** request sends one HTTP request to `addr` ("host:port") and describes the answer. */
export async function request(addr: string, pathAndQuery: string, options: RequestOptions = {}): Promise<HttpReply> {
  const started = performance.now();
  const headers: Record<string, string> = {};
  let body: string | Uint8Array | undefined;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers["content-type"] = "application/json";
  } else if (options.raw !== undefined) {
    body = options.raw;
  }
  if (options.contentType !== undefined) headers["content-type"] = options.contentType;
  try {
    const response = await fetch(`http://${addr}${pathAndQuery}`, {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
      redirect: "manual",
      keepalive: false,
      signal: AbortSignal.timeout(options.timeoutMs ?? 8000),
    });
    const text = await response.text();
    let json: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null) json = parsed as Record<string, unknown>;
    } catch {
      json = null;
    }
    return {
      status: response.status,
      json,
      text,
      location: response.headers.get("location"),
      headers: response.headers,
      networkError: null,
      elapsedMs: performance.now() - started,
    };
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { status: 0, json: null, text: "", location: null, headers: null, networkError: message, elapsedMs: performance.now() - started };
  }
}

/** describeReply renders a reply in one line for assertion messages. */
export function describeReply(reply: HttpReply): string {
  if (reply.status === 0) return `no answer (${reply.networkError}) after ${reply.elapsedMs.toFixed(0)} ms`;
  const location = reply.location === null ? "" : ` Location: ${reply.location}`;
  const text = reply.text.length > 300 ? `${reply.text.slice(0, 300)}…` : reply.text;
  return `HTTP ${reply.status}${location} ${text}`;
}

/** errorCode reads the stable error code of an error reply, or null. */
export function errorCode(reply: HttpReply): string | null {
  const code = reply.json?.error;
  return typeof code === "string" ? code : null;
}
