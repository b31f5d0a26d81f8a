import type { StatusJson } from "./api.ts";
import type { MemberHttp } from "./tls/types.ts";

export type { MemberHttp } from "./tls/types.ts";

export const plain_member_http: MemberHttp = { https: false };

/** memberUrl: the URL of `path` on the member at "host:port". */
export function memberUrl(addr: string, path: string, via: MemberHttp): string {
  return `${via.https ? "https" : "http"}://${addr}${path}`;
}

/** memberFetchInit: the fetch options that carry the TLS material (Bun's fetch `tls`). */
export function memberFetchInit(via: MemberHttp): { tls?: { ca?: string; cert?: string; key?: string } } {
  return via.https && via.tls !== undefined ? { tls: via.tls } : {};
}

/** Reply is an HTTP answer from another member: status code and parsed JSON body (null when not JSON). */
export interface Reply {
  status: number;
  body: Record<string, unknown> | null;
}

/** postJson POSTs a JSON body to http(s)://addr/path (following the leader's 307), bounded by timeoutMs. */
export async function postJson(addr: string, path: string, body: unknown, timeoutMs: number, via: MemberHttp = plain_member_http): Promise<Reply> {
  const response = await fetch(memberUrl(addr, path, via), {
    ...memberFetchInit(via),
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    redirect: "follow",
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: await jsonOrNull(response) };
}

/** fetchStatus reads another member's GET /status; null when it cannot be reached or answers nonsense. */
export async function fetchStatus(addr: string, timeoutMs: number, via: MemberHttp = plain_member_http): Promise<StatusJson | null> {
  try {
    const response = await fetch(memberUrl(addr, "/status", via), { ...memberFetchInit(via), signal: AbortSignal.timeout(timeoutMs) });
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
