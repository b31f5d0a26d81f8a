import { type KeyValue, validateCommand, validateKey, validateValueBytes } from "../../kv/index.ts";
import { assert } from "../../shared/assert.ts";
import { QklzlError } from "../../shared/errors.ts";
import { limits } from "../../shared/limits.ts";
import { stamp, TracePoint, tracing } from "../../shared/trace.ts";
import type { HttpServerOptions, NodeApi } from "../api.ts";
import { bodyText, parseJsonObject, readBodyBytes } from "./body.ts";
import { type Handler, leaderOnly, notLeaderAnswer, readObject, type RouteContext, type RouteHandler } from "./context.ts";
import { errorResponse, methodNotAllowed, toErrorResponse } from "./errors.ts";
import { getKvRange, isRangeQuery } from "./kv_range.ts";
import { type PlainPut, plainPut, plainPutText } from "./plain_put.ts";
import { isExtendedWrite, parseExtendedWrite } from "./kv_write.ts";
import { raw_kv_path, raw_kv_route, rawKvHandler } from "./kv_raw.ts";
import { alarm_routes } from "./alarm_routes.ts";
import { leaseRoutes } from "./lease_routes.ts";
import { admit, needsCaller } from "./auth_gate.ts";
import { auth_route_paths, authRoutes } from "./auth_routes.ts";
import { HttpMetrics } from "./metrics.ts";
import { getSnapshot } from "./snapshot_route.ts";
import { postCompact, postTxn } from "./txn.ts";
import { plainKey, type RequestTarget, requestTarget } from "./url.ts";
import { parseConsistency, parseFlag, parseJoinRequest, parseMemberId } from "./validate.ts";
import { getWatch, postWatchProgress, watch_defaults } from "./watch_route.ts";

const metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

function getStatus(ctx: RouteContext): Response {
  return Response.json(ctx.api.status());
}

function getKv(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const plain = plainKey(target.query);
  // The common GET /kv?key=K: linearizable, not forwarded (leaderOnly without a forward is just the read).
  if (plain !== null) return getPlainKv(ctx, plain);
  const params = new URLSearchParams(target.query);
  if (isRangeQuery(params)) return getKvRange(ctx, req, target, params);
  const key = params.get("key");
  if (key === null) throw new QklzlError("bad_request", 'missing query parameter "key"');
  validateKey(key, ctx.options.maxKeyBytes);
  const consistency = parseConsistency(params.get("consistency"));
  const forward = parseFlag("forward", params.get("forward"));
  return leaderOnly(ctx, req, target, { wanted: forward, body: null }, () => ctx.api.readKv(key, consistency), (found) => kvAnswer(key, found));
}

async function getPlainKv(ctx: RouteContext, key: string): Promise<Response> {
  validateKey(key, ctx.options.maxKeyBytes);
  return kvAnswer(key, await ctx.api.readKv(key, "linearizable"));
}

/** kvAnswer: the original {"key","value"} first, in that order; the revisions are extra fields after them. */
function kvAnswer(key: string, found: { kv: KeyValue; revision: number } | null): Response {
  if (found === null) return errorResponse("key_not_found", `key ${JSON.stringify(key)} not found`, { key });
  return Response.json({
    key,
    value: found.kv.value,
    create_revision: found.kv.create_revision,
    mod_revision: found.kv.mod_revision,
    version: found.kv.version,
    revision: found.revision,
  });
}

async function postKv(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  if (tracing) stamp(TracePoint.httpIn, -1);
  const forward = target.query.length === 0 ? false : parseFlag("forward", new URLSearchParams(target.query).get("forward"));
  // readObject's steps inline: the busiest route saves an async call (a generator, a promise, scopes) per write.
  const bytes = await readBodyBytes(req, ctx.options.maxBodyBytes);
  if (tracing) stamp(TracePoint.bodyRead, -1);
  const plain = plainPut(bytes); // a large plain put, read without JSON.parse (plain_put.ts)
  if (plain !== null) return postPlainPut(ctx, req, target, forward, plain);
  const text = bodyText(bytes);
  const body = parseJsonObject(text);
  if (isExtendedWrite(body)) {
    const write = parseExtendedWrite(body, ctx.commandLimits);
    return leaderOnly(ctx, req, target, { wanted: forward, body: text }, () => ctx.api.kvRequest(write.request, write.requestId), write.answer);
  }
  const command = validateCommand(body, ctx.commandLimits);
  // leaderOnly written out: the most frequent request pays for no operation closure and one async frame less.
  let written: { index: number };
  try {
    written = await ctx.api.write(command);
  } catch (error) {
    return await notLeaderAnswer(ctx, req, target, { wanted: forward, body: text }, error);
  }
  if (!tracing) return writtenAnswer(written);
  const answer = writtenAnswer(written);
  stamp(TracePoint.answered, written.index);
  return answer;
}

/**
 * postPlainPut: postKv's plain put, its value as the body's bytes: validateCommand's checks in its order and
 * with its answers, then api.putUtf8, which proposes the entry write() would (no string of the value made).
 */
async function postPlainPut(ctx: RouteContext, req: Request, target: RequestTarget, forward: boolean, put: PlainPut): Promise<Response> {
  validateKey(put.key, ctx.commandLimits.maxKeyBytes);
  validateValueBytes(put.value, ctx.commandLimits.maxValueBytes);
  let written: { index: number };
  try {
    // The body is this request's own: its JSON opening is lent for the entry's head (no copy of the value).
    written = await ctx.api.putUtf8(put.key, put.value, put.spare);
  } catch (error) {
    return await notLeaderAnswer(ctx, req, target, { wanted: forward, body: plainPutText(put) }, error);
  }
  return writtenAnswer(written);
}

/** writtenAnswer: a plain put's or delete's answer (one function for every write, not a closure per request). */
function writtenAnswer(written: { index: number }): Response {
  return Response.json({ ok: true, index: written.index });
}

async function postJoin(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const { text, body } = await readObject(ctx, req);
  const join = parseJoinRequest(body);
  return leaderOnly(
    ctx,
    req,
    target,
    { wanted: true, body: text },
    () => ctx.api.join(join),
    (joined) => Response.json({ ok: true, cluster_id: joined.clusterId, members: joined.members }),
  );
}

async function postLeave(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const { text, body } = await readObject(ctx, req);
  const id = parseMemberId(body);
  return leaderOnly(ctx, req, target, { wanted: true, body: text }, () => ctx.api.leave(id), okResponse);
}

async function postTransferLeader(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const { text, body } = await readObject(ctx, req);
  const id = parseMemberId(body);
  return leaderOnly(ctx, req, target, { wanted: true, body: text }, () => ctx.api.transferLeader(id), okResponse);
}

/** postSnapshot is local: every node compacts its own log, so it is never forwarded. */
async function postSnapshot(ctx: RouteContext): Promise<Response> {
  const { index } = await ctx.api.snapshot();
  return Response.json({ ok: true, index });
}

function getLivez(): Response {
  return Response.json({ ok: true });
}

/** getReadyz: readiness is a probe answer (503 no_leader or not_ready), in the one error shape. */
function getReadyz(ctx: RouteContext): Response {
  if (ctx.api.isReady()) return Response.json({ ready: true });
  const status = ctx.api.status();
  if (status.leader_id === 0) {
    return errorResponse("no_leader", `node ${status.id} is not ready: no leader is known`, { ready: false });
  }
  return errorResponse("not_ready", `node ${status.id} is not ready: applied ${status.applied_index} of commit index ${status.commit_index}`, {
    ready: false,
  });
}

function getMetrics(ctx: RouteContext): Response {
  return new Response(ctx.api.metricsText() + ctx.metrics.text(), { headers: { "content-type": metrics_content_type } });
}

function getWatchRoute(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  return getWatch(ctx.api, req, target, { maxKeyBytes: ctx.options.maxKeyBytes, ...watch_defaults });
}

async function postWatchProgressRoute(ctx: RouteContext, req: Request): Promise<Response> {
  const { body } = await readObject(ctx, req);
  return postWatchProgress(ctx.api, body);
}

function okResponse(): Response {
  return Response.json({ ok: true });
}

/** route_paths: every path served; metrics are counted per path, plus "other" for the 404 fallback. */
const route_paths = [
  "/status",
  "/kv",
  "/txn",
  "/compact",
  "/join",
  "/leave",
  "/transfer-leader",
  "/snapshot",
  "/livez",
  "/readyz",
  "/metrics",
  "/watch",
  "/watch/progress",
  "/lease/grant",
  "/lease/revoke",
  "/lease/keepalive",
  "/lease/:id",
  "/leases",
  "/alarms",
  "/alarms/disarm",
  "/alarms/activate",
  "/hashes",
  ...auth_route_paths,
] as const;

type RoutePath = (typeof route_paths)[number];

/** route_table maps each path to its methods; HEAD is answered by the GET handler (Bun drops the body). */
const route_table: Record<RoutePath, Partial<Record<"GET" | "POST", Handler>>> = {
  "/status": { GET: getStatus },
  "/kv": { GET: getKv, POST: postKv },
  "/txn": { POST: postTxn },
  "/compact": { POST: postCompact },
  "/join": { POST: postJoin },
  "/leave": { POST: postLeave },
  "/transfer-leader": { POST: postTransferLeader },
  "/snapshot": { GET: getSnapshot, POST: postSnapshot },
  "/livez": { GET: getLivez },
  "/readyz": { GET: getReadyz },
  "/metrics": { GET: getMetrics },
  "/watch": { GET: getWatchRoute },
  "/watch/progress": { POST: postWatchProgressRoute },
  ...leaseRoutes<RouteContext>(leaderOnly),
  ...alarm_routes,
  ...authRoutes,
};

export interface BuiltRoutes {
  /** routes: for Bun.serve's `routes`, one function per path (methods are dispatched here, for a JSON 405). */
  routes: Record<string, RouteHandler>;
  /** notFound: the `fetch` fallback for paths outside the table. */
  notFound: RouteHandler;
}

/** dispatch wraps one path's handlers with method dispatch, error mapping and counting. */
function dispatch(ctx: RouteContext, path: RoutePath, methods: Partial<Record<"GET" | "POST", Handler>>): RouteHandler {
  const get = methods.GET;
  const post = methods.POST;
  assert(get !== undefined || post !== undefined, "a route has a method");
  const allow = [get ? "GET, HEAD" : "", post ? "POST" : ""].filter((m) => m.length > 0).join(", ");
  const routeIndex = ctx.metrics.routeIndex(path);
  return async (req) => {
    const method = req.method;
    const handler = method === "GET" || method === "HEAD" ? get : method === "POST" ? post : undefined;
    const started = performance.now();
    let response: Response;
    if (handler === undefined) {
      response = methodNotAllowed(method, path, allow);
    } else {
      const target = requestTarget(req.url);
      try {
        // With auth off (the common case) no await and no allocation: the shared context as it is.
        response = await handler(needsCaller(ctx, path) ? await admit(ctx, path, req) : ctx, req, target);
      } catch (error) {
        response = toErrorResponse(error, method, target.pathAndQuery, ctx.options.memberHttp?.().https ? "https" : "http");
      }
    }
    ctx.metrics.count(routeIndex, response.status, (performance.now() - started) / 1000);
    return response;
  };
}

/** buildRoutes wires the handlers to a NodeApi: one RouteContext shared by every request. */
export function buildRoutes(api: NodeApi, options: HttpServerOptions): BuiltRoutes {
  const ctx: RouteContext = {
    api,
    options,
    commandLimits: { maxKeyBytes: options.maxKeyBytes, maxValueBytes: options.maxValueBytes, maxTxnOps: options.maxTxnOps ?? limits.txn_ops_max },
    metrics: new HttpMetrics([...route_paths, raw_kv_route, "other"]),
  };
  const out: Record<string, RouteHandler> = {};
  for (const path of route_paths) out[path] = dispatch(ctx, path, route_table[path]);
  out[raw_kv_path] = rawKvHandler(ctx);
  const otherIndex = ctx.metrics.routeIndex("other");
  const notFound: RouteHandler = async (req) => {
    const target = requestTarget(req.url);
    ctx.metrics.count(otherIndex, 404);
    return errorResponse("not_found", `no route ${req.method} ${target.path}; see the README for the API`);
  };
  return { routes: out, notFound };
}
