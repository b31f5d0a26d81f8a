import { validateKey } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import type { AppliedRequest } from "../api.ts";
import { admit, needsCaller } from "./auth_gate.ts";
import { readBodyBytes } from "./body.ts";
import { leaderOnly, type RouteContext, type RouteHandler } from "./context.ts";
import { errorResponse, toErrorResponse } from "./errors.ts";
import { kvJson } from "./kv_json.ts";
import { type RequestTarget, requestTarget } from "./url.ts";
import { parseConsistency, parseFlag } from "./validate.ts";

/**
 * The raw value routes (issue 16, large values): `PUT /kv/KEY` with `Content-Type: application/octet-stream`
 * and the value as the body, `GET /kv/KEY` answering the value's bytes. KEY is the URL-encoded key (a `/` in
 * it may be written as is or as %2F). A put's value never becomes a JSON string or, on the write path, a JS
 * string on any node: the body bytes go into a raw log entry (kv/command.ts, tag 18) and from its decoded
 * view into the store's arena. Errors, limits and the 307 to the leader are those of POST /kv.
 */
export const raw_kv_path = "/kv/*";
/** raw_kv_route: the name the HTTP metrics count these routes under. */
export const raw_kv_route = "/kv/:key";

const raw_prefix = "/kv/";
const octet_stream = "application/octet-stream";

/** rawKey: the key named by the path after /kv/, URL-decoded and validated. */
function rawKey(ctx: RouteContext, target: RequestTarget): string {
  let key: string;
  try {
    key = decodeURIComponent(target.path.slice(raw_prefix.length));
  } catch {
    throw new QklzlError("bad_request", `the key in ${JSON.stringify(target.path)} is not valid URL encoding`);
  }
  return validateKey(key, ctx.options.maxKeyBytes);
}

async function putRaw(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const type = req.headers.get("content-type");
  if (type === null || type.split(";", 1)[0]!.trim().toLowerCase() !== octet_stream) {
    throw new QklzlError("bad_request", `PUT /kv/KEY takes the value as the body with Content-Type: ${octet_stream} (got ${JSON.stringify(type)}); JSON writes go to POST /kv`);
  }
  const key = rawKey(ctx, target);
  const params = target.query.length === 0 ? null : new URLSearchParams(target.query);
  const prevKv = parseFlag("prev_kv", params?.get("prev_kv") ?? null);
  const requestId = params?.get("request_id") ?? undefined;
  const value = await readBodyBytes(req, ctx.options.maxBodyBytes);
  const api = ctx.api;
  // prev_kv answers the old value as JSON: that put takes the string path (the common put does not).
  const write = prevKv
    ? () => api.kvRequest({ kind: "put", put: { key, value: decodeValue(value), prev_kv: true } }, requestId)
    : () => api.putBytes(key, value, requestId);
  return leaderOnly(ctx, req, target, { wanted: false, body: null }, write, (applied) => Response.json(putAnswer(applied)));
}

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function decodeValue(value: Uint8Array): string {
  try {
    return utf8Strict.decode(value);
  } catch {
    throw new QklzlError("bad_request", "value is not valid UTF-8");
  }
}

/** putAnswer: POST /kv's answer to an extended put ({"ok","index","revision"}, and prev_kv when asked). */
function putAnswer(applied: AppliedRequest): Record<string, unknown> {
  const response = applied.response;
  if (response.kind !== "put") throw new QklzlError("internal", `a put answered ${response.kind}`);
  const out: Record<string, unknown> = { ok: true, index: applied.index, revision: response.put.revision };
  if (response.put.prev_kv !== undefined) out.prev_kv = kvJson(response.put.prev_kv, "utf8");
  return out;
}

async function getRaw(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const key = rawKey(ctx, target);
  const params = target.query.length === 0 ? null : new URLSearchParams(target.query);
  const consistency = parseConsistency(params?.get("consistency") ?? null);
  const found = await ctx.api.readKv(key, consistency);
  if (found === null) return errorResponse("key_not_found", `key ${JSON.stringify(key)} not found`, { key });
  return new Response(found.kv.value, {
    headers: {
      "content-type": octet_stream,
      "x-qklzl-mod-revision": String(found.kv.mod_revision),
      "x-qklzl-revision": String(found.revision),
    },
  });
}

/** rawKvHandler: the raw routes with POST /kv's method answer, error mapping, auth and counting. */
export function rawKvHandler(ctx: RouteContext): RouteHandler {
  const routeIndex = ctx.metrics.routeIndex(raw_kv_route);
  return async (req) => {
    const method = req.method;
    const started = performance.now();
    const target = requestTarget(req.url);
    let response: Response;
    try {
      // "/kv/" names no key: the not-found answer it had before this route existed.
      // "/kv/" names no key, and other methods on /kv/KEY (POST /kv/x) are not routes: both keep the 404
      // not_found they had before these routes existed (before auth, as the fallback answers).
      if (target.path === raw_prefix || (method !== "PUT" && method !== "GET" && method !== "HEAD")) {
        response = errorResponse("not_found", `no route ${method} ${target.path}; see the README for the API`);
      } else {
        const scoped = needsCaller(ctx, raw_kv_route) ? await admit(ctx, raw_kv_route, req) : ctx;
        response = method === "PUT" ? await putRaw(scoped, req, target) : await getRaw(scoped, req, target);
      }
    } catch (error) {
      response = toErrorResponse(error, method, target.pathAndQuery, ctx.options.memberHttp?.().https ? "https" : "http");
    }
    ctx.metrics.count(routeIndex, response.status, (performance.now() - started) / 1000);
    return response;
  };
}
