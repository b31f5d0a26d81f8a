import { assert } from "../shared/assert.ts";
import { isQklzlError, QklzlError } from "../shared/errors.ts";
import type { HttpServerOptions, NodeApi } from "./api.ts";
import { type JsonObject, parseJsonObject, readBodyText } from "./http_body.ts";
import { errorResponse, leaderHint, methodNotAllowed, toErrorResponse } from "./http_errors.ts";
import { forwardToLeader, forwarded_header } from "./http_forward.ts";
import { HttpMetrics } from "./http_metrics.ts";
import { type RequestTarget, requestTarget, withoutParam } from "./http_url.ts";
import { checkKey, type KvLimits, parseConsistency, parseFlag, parseJoinRequest, parseKvCommand, parseMemberId } from "./http_validate.ts";

/** Handler answers one method on one route; it may throw, and the route wrapper maps what it throws. */
type Handler = (req: Request, target: RequestTarget) => Promise<Response> | Response;

type RouteHandler = (req: Request) => Promise<Response>;

const metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/** Routes holds what every handler needs; one instance per server, so handlers allocate nothing of their own. */
class Routes {
  readonly kvLimits: KvLimits;
  readonly metrics: HttpMetrics;

  constructor(
    readonly api: NodeApi,
    readonly options: HttpServerOptions,
    routeNames: string[],
  ) {
    this.kvLimits = { maxKeyBytes: options.maxKeyBytes, maxValueBytes: options.maxValueBytes };
    this.metrics = new HttpMetrics(routeNames);
  }

  async readObject(req: Request): Promise<{ text: string; body: JsonObject }> {
    const text = await readBodyText(req, this.options.maxBodyBytes);
    return { text, body: parseJsonObject(text) };
  }

  /**
   * leaderOnly runs an operation only the leader can do. On not_leader it forwards to the leader when asked to
   * (and the request was not itself forwarded: one hop at most); otherwise the error maps to 307 or 503.
   */
  async leaderOnly<T>(
    req: Request,
    target: RequestTarget,
    forward: { wanted: boolean; body: string | null },
    operation: () => Promise<T>,
    answer: (result: T) => Response,
  ): Promise<Response> {
    let result: T;
    try {
      result = await operation();
    } catch (error) {
      if (!forward.wanted || !isQklzlError(error) || error.code !== "not_leader") throw error;
      if (req.headers.get(forwarded_header) !== null) throw error;
      const hint = leaderHint(error);
      if (hint === null) throw new QklzlError("no_leader", `${error.message} (no leader is known)`);
      try {
        const response = await forwardToLeader({
          ...hint,
          method: req.method,
          pathAndQuery: withoutParam(target, "forward"),
          body: forward.body,
          timeoutMs: this.options.requestTimeoutMs,
        });
        this.metrics.forwarded(true);
        return response;
      } catch (forwardError) {
        this.metrics.forwarded(false);
        throw forwardError;
      }
    }
    return answer(result);
  }

  getStatus: Handler = () => Response.json(this.api.status());

  getKv: Handler = async (req, target) => {
    const params = new URLSearchParams(target.query);
    const key = params.get("key");
    if (key === null) throw new QklzlError("bad_request", 'missing query parameter "key"');
    checkKey(key, this.options.maxKeyBytes);
    const consistency = parseConsistency(params.get("consistency"));
    const forward = parseFlag("forward", params.get("forward"));
    return this.leaderOnly(
      req,
      target,
      { wanted: forward, body: null },
      () => this.api.readKv(key, consistency),
      // The original {"key","value"} first, in that order; the revisions are extra fields after them.
      (found) =>
        found === null
          ? errorResponse("key_not_found", `key ${JSON.stringify(key)} not found`, { key })
          : Response.json({
              key,
              value: found.kv.value,
              create_revision: found.kv.create_revision,
              mod_revision: found.kv.mod_revision,
              version: found.kv.version,
              revision: found.revision,
            }),
    );
  };

  postKv: Handler = async (req, target) => {
    const forward = target.query.length === 0 ? false : parseFlag("forward", new URLSearchParams(target.query).get("forward"));
    const { text, body } = await this.readObject(req);
    const command = parseKvCommand(body, this.kvLimits);
    return this.leaderOnly(
      req,
      target,
      { wanted: forward, body: text },
      () => this.api.write(command),
      (written) => Response.json({ ok: true, index: written.index }),
    );
  };

  postJoin: Handler = async (req, target) => {
    const { text, body } = await this.readObject(req);
    const join = parseJoinRequest(body);
    return this.leaderOnly(
      req,
      target,
      { wanted: true, body: text },
      () => this.api.join(join),
      (joined) => Response.json({ ok: true, cluster_id: joined.clusterId, members: joined.members }),
    );
  };

  postLeave: Handler = async (req, target) => {
    const { text, body } = await this.readObject(req);
    const id = parseMemberId(body);
    return this.leaderOnly(req, target, { wanted: true, body: text }, () => this.api.leave(id), okResponse);
  };

  postTransferLeader: Handler = async (req, target) => {
    const { text, body } = await this.readObject(req);
    const id = parseMemberId(body);
    return this.leaderOnly(req, target, { wanted: true, body: text }, () => this.api.transferLeader(id), okResponse);
  };

  /** postSnapshot is local: every node compacts its own log, so it is never forwarded. */
  postSnapshot: Handler = async () => {
    const { index } = await this.api.snapshot();
    return Response.json({ ok: true, index });
  };

  getLivez: Handler = () => Response.json({ ok: true });

  getReadyz: Handler = () => {
    if (this.api.isReady()) return Response.json({ ready: true });
    const status = this.api.status();
    if (status.leader_id === 0) {
      return errorResponse("no_leader", `node ${status.id} is not ready: no leader is known`, { ready: false });
    }
    // not_ready is not an ErrorCode: readiness is a probe answer, not a refused request.
    return Response.json(
      {
        error: "not_ready",
        message: `node ${status.id} is not ready: applied ${status.applied_index} of commit index ${status.commit_index}`,
        ready: false,
      },
      { status: 503 },
    );
  };

  getMetrics: Handler = () =>
    new Response(this.api.metricsText() + this.metrics.text(), { headers: { "content-type": metrics_content_type } });
}

function okResponse(): Response {
  return Response.json({ ok: true });
}

/** route_paths: every path served; metrics are counted per path, plus "other" for the 404 fallback. */
const route_paths = ["/status", "/kv", "/join", "/leave", "/transfer-leader", "/snapshot", "/livez", "/readyz", "/metrics"] as const;

type RoutePath = (typeof route_paths)[number];

/** routeTable maps each path to its methods; HEAD is answered by the GET handler (Bun drops the body). */
function routeTable(routes: Routes): Record<RoutePath, Partial<Record<"GET" | "POST", Handler>>> {
  return {
    "/status": { GET: routes.getStatus },
    "/kv": { GET: routes.getKv, POST: routes.postKv },
    "/join": { POST: routes.postJoin },
    "/leave": { POST: routes.postLeave },
    "/transfer-leader": { POST: routes.postTransferLeader },
    "/snapshot": { POST: routes.postSnapshot },
    "/livez": { GET: routes.getLivez },
    "/readyz": { GET: routes.getReadyz },
    "/metrics": { GET: routes.getMetrics },
  };
}

export interface BuiltRoutes {
  /** routes: for Bun.serve's `routes`, one function per path (methods are dispatched here, for a JSON 405). */
  routes: Record<string, RouteHandler>;
  /** notFound: the `fetch` fallback for paths outside the table. */
  notFound: RouteHandler;
}

/** dispatch wraps one path's handlers with method dispatch, error mapping and counting. */
function dispatch(routes: Routes, path: RoutePath, methods: Partial<Record<"GET" | "POST", Handler>>): RouteHandler {
  const get = methods.GET;
  const post = methods.POST;
  assert(get !== undefined || post !== undefined, "a route has a method");
  const allow = [get ? "GET, HEAD" : "", post ? "POST" : ""].filter((m) => m.length > 0).join(", ");
  const routeIndex = routes.metrics.routeIndex(path);
  return async (req) => {
    const method = req.method;
    const handler = method === "GET" || method === "HEAD" ? get : method === "POST" ? post : undefined;
    let response: Response;
    if (handler === undefined) {
      response = methodNotAllowed(method, path, allow);
    } else {
      const target = requestTarget(req.url);
      try {
        response = await handler(req, target);
      } catch (error) {
        response = toErrorResponse(error, method, target.pathAndQuery);
      }
    }
    routes.metrics.count(routeIndex, response.status);
    return response;
  };
}

/** buildRoutes wires the handlers to a NodeApi: one Routes instance shared by every request. */
export function buildRoutes(api: NodeApi, options: HttpServerOptions): BuiltRoutes {
  const routes = new Routes(api, options, [...route_paths, "other"]);
  const table = routeTable(routes);
  const out: Record<string, RouteHandler> = {};
  for (const path of route_paths) out[path] = dispatch(routes, path, table[path]);
  const otherIndex = routes.metrics.routeIndex("other");
  const notFound: RouteHandler = async (req) => {
    const target = requestTarget(req.url);
    routes.metrics.count(otherIndex, 404);
    return errorResponse("not_found", `no route ${req.method} ${target.path}; see the README for the API`);
  };
  return { routes: out, notFound };
}
