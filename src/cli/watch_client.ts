import { isQklzlError, QklzlError, type ErrorCode } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import { authorizationHeader, baseUrl, request } from "./client.ts";

/** SseMessage: one Server-Sent Events message (fields as sent; data lines joined by "\n"). */
export interface SseMessage {
  event: string;
  id: string | null;
  data: string;
}

/** SseParser cuts a byte stream into SSE messages (text/event-stream, "\n" or "\r\n" line ends); comments are dropped. */
export class SseParser {
  private buffer = "";
  private readonly decoder = new TextDecoder();

  push(chunk: Uint8Array): SseMessage[] {
    // Normalized over the buffer, not the chunk: a "\r\n" may be split between two chunks.
    this.buffer = (this.buffer + this.decoder.decode(chunk, { stream: true })).replaceAll("\r\n", "\n");
    const out: SseMessage[] = [];
    for (let end = this.buffer.indexOf("\n\n"); end >= 0; end = this.buffer.indexOf("\n\n")) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const message: SseMessage = { event: "message", id: null, data: "" };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") message.event = value;
        else if (field === "id") message.id = value;
        else if (field === "data") data.push(value);
      }
      if (data.length === 0 && message.id === null) continue; // a comment-only block (heartbeat)
      message.data = data.join("\n");
      out.push(message);
    }
    if (this.buffer.length > limits.request_body_bytes_max * 4) throw new QklzlError("internal", "watch stream: a message too long without an end");
    return out;
  }
}

export interface WatchEventJson {
  type: "put" | "delete";
  kv: { key: string; value: string; create_revision: number; mod_revision: number; version: number; lease: number };
  prev_kv?: WatchEventJson["kv"];
  revision: number;
}

export interface FollowOptions {
  /** addrs: members to try in turn; more are learned from /status. */
  addrs: string[];
  /** query: the watch's parameters except start_revision (key/prefix/range_end/prev_kv/filter). */
  query: URLSearchParams;
  /** startRevision: 0 = from now (the first node's created revision + 1 on later reconnects). */
  startRevision: number;
  onEvents(revision: number, events: WatchEventJson[]): void;
  /** onNote: a line about reconnecting (stderr). */
  onNote(text: string): void;
  signal: AbortSignal;
  /** silenceMs: no byte (not even a heartbeat) for this long means the node is gone. */
  silenceMs?: number;
}

/** fatal_codes: answers that another member would give too; the watch ends with them. */
const fatal_codes = new Set<ErrorCode>(["bad_request", "too_large", "compacted", "future_revision"]);

/**
 * followWatch keeps one logical watch going across members: it opens GET /watch on a member, prints what
 * arrives, and when the member dies, stops answering (silenceMs) or closes the watch (shutting_down), opens
 * it on the next member with start_revision = the last revision seen + 1, so nothing is skipped or repeated.
 * Resolves when `signal` aborts; rejects with a QklzlError that no member can change (compacted, bad_request).
 */
export async function followWatch(options: FollowOptions): Promise<void> {
  const addrs = [...new Set(options.addrs.map((a) => a.trim()).filter((a) => a.length > 0))];
  if (addrs.length === 0) throw new QklzlError("bad_request", "no member address to watch");
  let next = options.startRevision;
  let turn = 0;
  let failuresInARow = 0;
  while (!options.signal.aborted) {
    const addr = addrs[turn % addrs.length]!;
    try {
      const learn = (found: string[]) => {
        for (const a of found) if (!addrs.includes(a)) addrs.push(a);
      };
      const reason = await watchOnce(addr, next, options, learn, (revision) => {
        next = revision + 1;
        failuresInARow = 0;
      });
      options.onNote(`watch on ${addr} ended (${reason}); resuming from revision ${next} on another member`);
    } catch (error) {
      if (options.signal.aborted) return;
      if (isQklzlError(error) && fatal_codes.has(error.code)) throw error;
      failuresInARow++;
      options.onNote(`watch on ${addr} failed: ${error instanceof Error ? error.message : String(error)}; trying another member`);
    }
    turn++;
    if (failuresInARow >= addrs.length) await Bun.sleep(Math.min(2_000, 100 * failuresInARow));
  }
}

/** watchOnce runs the watch on one member until it ends; resolves with why, rejects on failure. */
async function watchOnce(
  addr: string,
  next: number,
  options: FollowOptions,
  learn: (addrs: string[]) => void,
  seen: (revision: number) => void,
): Promise<string> {
  const query = new URLSearchParams(options.query);
  if (next > 0) query.set("start_revision", String(next));
  const aborter = new AbortController();
  const onAbort = () => aborter.abort();
  options.signal.addEventListener("abort", onAbort);
  const silenceMs = options.silenceMs ?? 3 * limits.watch_heartbeat_ms + 1_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => aborter.abort(), silenceMs);
  };
  arm();
  try {
    const response = await fetch(`${baseUrl(addr)}/watch?${query}`, { signal: aborter.signal, headers: { accept: "text/event-stream", ...authorizationHeader() } });
    if (!response.ok) throw await errorOf(response);
    if (response.body === null) throw new QklzlError("internal", "watch answered without a body");
    void learnMembers(addr).then(learn);
    const parser = new SseParser();
    for await (const chunk of response.body) {
      arm();
      for (const message of parser.push(chunk)) {
        const body = JSON.parse(message.data) as Record<string, unknown>;
        if (message.event === "created") {
          if (next === 0) seen(body.revision as number);
          options.onNote(`watching ${addr} from revision ${Number(body.start_revision)}`);
        } else if (message.event === "cancel") {
          const code = body.error as string;
          if (code === "shutting_down") return "the member is shutting down";
          throw new QklzlError(code === "compacted" ? "compacted" : "internal", String(body.message), body);
        } else if (message.event === "progress") {
          seen(body.revision as number);
        } else if (message.id !== null) {
          const revision = body.revision as number;
          options.onEvents(revision, body.events as WatchEventJson[]);
          seen(revision);
        }
      }
    }
    return "the stream ended";
  } catch (error) {
    if (isQklzlError(error)) throw error;
    if (aborter.signal.aborted && !options.signal.aborted) throw new QklzlError("timeout", `no data from ${addr} for ${silenceMs} ms`);
    throw new QklzlError("internal", `${addr}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
  }
}

/** learnMembers: the members' HTTP addresses from /status (null-safe: a failure learns nothing). */
async function learnMembers(addr: string): Promise<string[]> {
  try {
    const status = (await request(addr, "GET", "/status", undefined, { timeoutMs: 2_000, followLeader: false })) as { members?: { http_addr: string }[] };
    return (status.members ?? []).map((m) => m.http_addr).filter((a) => a.length > 0);
  } catch {
    return [];
  }
}

async function errorOf(response: Response): Promise<QklzlError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    if (typeof body.error === "string") return new QklzlError(body.error as ErrorCode, body.message ?? text, body as Record<string, unknown>);
  } catch {
    // not JSON
  }
  return new QklzlError("internal", `HTTP ${response.status}: ${text.slice(0, 200)}`);
}

/** formatEvent: one line per event: "REV PUT key value" / "REV DELETE key", with prev_kv when asked. */
export function formatEvent(event: WatchEventJson, json: boolean): string {
  if (json) return JSON.stringify(event);
  const head = `${event.revision} ${event.type === "put" ? "PUT" : "DELETE"} ${JSON.stringify(event.kv.key)}`;
  const value = event.type === "put" ? ` ${JSON.stringify(event.kv.value)}` : "";
  const prev = event.prev_kv !== undefined ? ` (prev ${JSON.stringify(event.prev_kv.value)})` : "";
  return head + value + prev;
}
