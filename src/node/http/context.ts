import type { Caller, CommandLimits } from "../../kv/index.ts";
import { isQklzlError } from "../../shared/errors.ts";
import type { JsonObject } from "../../shared/json.ts";
import type { HttpServerOptions, NodeApi } from "../api.ts";
import { bodyText, parseJsonObject, readBodyBytes } from "./body.ts";
import { leaderHint } from "./errors.ts";
import { plain_member_http } from "../cluster_client.ts";
import { forwardToLeader, forwarded_header } from "./forward.ts";
import type { HttpMetrics } from "./metrics.ts";
import { type RequestTarget, withoutParam } from "./url.ts";

// What every route handler shares (routes.ts and the MVCC routes in files of their own).

/** RouteContext holds what every handler needs; one per server, so handlers allocate nothing of their own. */
export interface RouteContext {
  readonly api: NodeApi;
  readonly options: HttpServerOptions;
  readonly commandLimits: CommandLimits;
  readonly metrics: HttpMetrics;
  /** caller: the authenticated caller while auth is enabled (auth_gate.ts; `api` is then scoped to it). */
  readonly caller?: Caller;
}

/** Handler answers one method on one route; it may throw, and dispatch maps what it throws (toErrorResponse). */
export type Handler = (ctx: RouteContext, req: Request, target: RequestTarget) => Promise<Response> | Response;

export type RouteHandler = (req: Request) => Promise<Response>;

export async function readObject(ctx: RouteContext, req: Request): Promise<{ text: string; body: JsonObject }> {
  const text = bodyText(await readBodyBytes(req, ctx.options.maxBodyBytes));
  return { text, body: parseJsonObject(text) };
}

/**
 * leaderOnly runs an operation only the leader can do. On not_leader it forwards to the leader when asked to
 * (and the request was not itself forwarded: one hop at most); otherwise the error maps to 307 or 503.
 */
export async function leaderOnly<T>(
  ctx: RouteContext,
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
    return notLeaderAnswer(ctx, req, target, forward, error);
  }
  return answer(result);
}

/**
 * notLeaderAnswer: what leaderOnly answers when its operation threw `error`: the leader's answer to a forward
 * on not_leader (when asked for), else `error` rethrown. The plain put calls it itself (routes.ts postKv), so
 * the most frequent request skips leaderOnly's frame and closures.
 */
export async function notLeaderAnswer(
  ctx: RouteContext,
  req: Request,
  target: RequestTarget,
  forward: { wanted: boolean; body: string | null },
  error: unknown,
): Promise<Response> {
  if (!forward.wanted || !isQklzlError(error) || error.code !== "not_leader") throw error;
  if (req.headers.get(forwarded_header) !== null) throw error;
  const hint = leaderHint(error);
  if (hint === null) throw error; // answered as no_leader by qklzlErrorResponse
  try {
    const response = await forwardToLeader({
      ...hint,
      method: req.method,
      pathAndQuery: withoutParam(target, "forward"),
      body: forward.body,
      timeoutMs: ctx.options.requestTimeoutMs,
      via: ctx.options.memberHttp?.() ?? plain_member_http,
      authorization: req.headers.get("authorization"),
    });
    ctx.metrics.forwarded(true);
    return response;
  } catch (forwardError) {
    ctx.metrics.forwarded(false);
    throw forwardError;
  }
}
