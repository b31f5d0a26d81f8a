import type { StatusJson } from "./api.ts";

/** Reply is an HTTP answer from another member: status code and parsed JSON body (null when not JSON). */
export interface Reply {
  status: number;
  body: Record<string, unknown> | null;
}

/** postJson POSTs a JSON body to http://addr/path (following the leader's 307), bounded by timeoutMs. */
export async function postJson(addr: string, path: string, body: unknown, timeoutMs: number): Promise<Reply> {
  const response = await fetch(`http://${addr}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    redirect: "follow",
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: await jsonOrNull(response) };
}

/** fetchStatus reads another member's GET /status; null when it cannot be reached or answers nonsense. */
export async function fetchStatus(addr: string, timeoutMs: number): Promise<StatusJson | null> {
  try {
    const response = await fetch(`http://${addr}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) return null;
    const body = (await jsonOrNull(response)) as StatusJson | null;
    return body !== null && typeof body.id === "number" && Array.isArray(body.members) ? body : null;
  } catch {
    return null;
  }
}

async function jsonOrNull(response: Response): Promise<Record<string, unknown> | null> {
  try {
    const body: unknown = await response.json();
    return typeof body === "object" && body !== null ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** describeReply: one line for a log message. */
export function describeReply(reply: Reply): string {
  const error = typeof reply.body?.error === "string" ? reply.body.error : "";
  const message = typeof reply.body?.message === "string" ? reply.body.message : "";
  return `HTTP ${reply.status}${error ? ` ${error}` : ""}${message ? `: ${message}` : ""}`;
}
