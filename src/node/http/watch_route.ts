import { from_key_range_end, prefixEnd, validateKey } from "../../kv/index.ts";
import type { WatchFilter, WatchSpec } from "../../kv/watch_hub.ts";
import { QklzlError } from "../../shared/errors.ts";
import { limits } from "../../shared/limits.ts";
import type { NodeApi, WatchApi } from "../api.ts";
import { watchStream } from "../watch/sse_stream.ts";
import type { RequestTarget } from "./url.ts";
import { parseFlag } from "./validate.ts";

/** watch_params: every query parameter GET /watch takes; any other is a bad_request (a typo must not watch all). */
const watch_params = new Set(["key", "prefix", "range_end", "start_revision", "prev_kv", "filter", "progress_notify"]);

export interface WatchRouteOptions {
  maxKeyBytes: number;
  heartbeatMs: number;
  progressMs: number;
}

function revisionParam(name: string, text: string): number {
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new QklzlError("bad_request", `${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/**
 * parseWatchQuery reads `key=K` (one key), `key=K&range_end=E` ([K, E); E "\0" is every key from K) or
 * `prefix=P` (every key starting with P; an empty P is every key), and start_revision, prev_kv,
 * filter=noput|nodelete (repeatable or comma-separated), progress_notify. A Last-Event-ID header (an
 * EventSource reconnecting) overrides start_revision with its value + 1.
 */
export function parseWatchQuery(query: string, lastEventId: string | null, maxKeyBytes: number): { spec: WatchSpec; progressNotify: boolean } {
  const params = new URLSearchParams(query);
  for (const name of params.keys()) {
    if (!watch_params.has(name)) throw new QklzlError("bad_request", `unknown query parameter ${JSON.stringify(name)} for /watch`);
  }
  for (const name of watch_params) {
    if (name !== "filter" && params.getAll(name).length > 1) throw new QklzlError("bad_request", `query parameter "${name}" is given twice`);
  }
  const key = params.get("key");
  const prefix = params.get("prefix");
  const rangeEnd = params.get("range_end");
  let spec: WatchSpec;
  if ((key === null) === (prefix === null)) throw new QklzlError("bad_request", 'give exactly one of "key" and "prefix"');
  if (prefix !== null) {
    if (rangeEnd !== null) throw new QklzlError("bad_request", '"range_end" goes with "key", not with "prefix"');
    spec = prefix === "" ? { key: from_key_range_end, range_end: from_key_range_end } : { key: validateKey(prefix, maxKeyBytes), range_end: prefixEnd(prefix) };
  } else {
    spec = { key: validateKey(key!, maxKeyBytes) };
    if (rangeEnd !== null && rangeEnd !== "") spec.range_end = validateKey(rangeEnd, maxKeyBytes);
  }
  const start = params.get("start_revision");
  if (start !== null) spec.start_revision = revisionParam("start_revision", start);
  if (lastEventId !== null && lastEventId !== "") spec.start_revision = revisionParam("Last-Event-ID", lastEventId) + 1;
  spec.prev_kv = parseFlag("prev_kv", params.get("prev_kv"));
  const filters: WatchFilter[] = [];
  for (const value of params.getAll("filter").flatMap((v) => v.split(","))) {
    if (value !== "noput" && value !== "nodelete") throw new QklzlError("bad_request", `filter must be noput or nodelete, got ${JSON.stringify(value)}`);
    if (!filters.includes(value)) filters.push(value);
  }
  if (filters.length > 0) spec.filters = filters;
  return { spec, progressNotify: parseFlag("progress_notify", params.get("progress_notify")) };
}

function watchesOf(api: NodeApi): WatchApi {
  if (api.watches === undefined) throw new QklzlError("not_found", "this node serves no watches");
  return api.watches;
}

/**
 * getWatch answers GET /watch as Server-Sent Events (README, "Watch"): after a read barrier (a follower
 * first applies up to the leader's commit index), `created`, then one message per revision, progress
 * headers, heartbeat comments, and `cancel` as the last message. Errors before the stream are JSON 4xx/5xx.
 */
export async function getWatch(api: NodeApi, req: Request, target: RequestTarget, options: WatchRouteOptions): Promise<Response> {
  const { spec, progressNotify } = parseWatchQuery(target.query, req.headers.get("last-event-id"), options.maxKeyBytes);
  const watches = watchesOf(api);
  const watch = await watches.start(spec);
  if (req.signal.aborted) {
    watches.release(watch);
    throw new QklzlError("bad_request", "the client went away before the watch started");
  }
  const created = { watch_id: watch.id, revision: watch.createdRevision, start_revision: spec.start_revision ?? watch.createdRevision + 1 };
  const body = watchStream(watch, created, {
    heartbeatMs: options.heartbeatMs,
    progressMs: progressNotify ? options.progressMs : 0,
    signal: req.signal,
    onClose: () => watches.release(watch),
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}

/** postWatchProgress: POST /watch/progress {"watch_id"} queues a progress header on that watch's stream. */
export function postWatchProgress(api: NodeApi, body: Record<string, unknown>): Response {
  const id = body.watch_id;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) throw new QklzlError("bad_request", "watch_id must be a positive integer");
  if (!watchesOf(api).progress(id)) throw new QklzlError("not_found", `no watch ${id} on this node`);
  return Response.json({ ok: true });
}

export const watch_defaults = {
  heartbeatMs: limits.watch_heartbeat_ms,
  progressMs: limits.watch_progress_ms,
};
