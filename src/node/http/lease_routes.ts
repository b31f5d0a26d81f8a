import { QklzlError } from "../../shared/errors.ts";
import { describeJsonType, type JsonObject } from "../../shared/json.ts";
import type { HttpServerOptions, NodeApi } from "../api.ts";
import { parseJsonObject, readBodyText } from "./body.ts";
import type { RequestTarget } from "./url.ts";
import { parseFlag } from "./validate.ts";

// The lease API (README "Leases"). Every lease call is answered by the leader only; a follower forwards it
// (one hop, as /join does), so a client may talk to any member.

export interface LeaseRouteContext {
  readonly api: NodeApi;
  readonly options: HttpServerOptions;
}

/** LeaderRunner: routes.ts's leaderOnly (runs the operation, forwarding a not_leader to the leader once). */
export type LeaderRunner<C> = <T>(
  ctx: C,
  req: Request,
  target: RequestTarget,
  forward: { wanted: boolean; body: string | null },
  operation: () => Promise<T>,
  answer: (result: T) => Response,
) => Promise<Response>;

type LeaseHandler<C> = (ctx: C, req: Request, target: RequestTarget) => Promise<Response>;

/** parseLeaseId reads a lease id: a positive safe integer (0 means "no lease" on a key). */
export function parseLeaseId(value: unknown, where: string): number {
  if (typeof value === "string" && /^[0-9]{1,16}$/.test(value)) value = Number(value);
  if (typeof value !== "number") throw new QklzlError("bad_request", `${where} must be a number, got ${describeJsonType(value)}`);
  if (!Number.isSafeInteger(value) || value <= 0) throw new QklzlError("bad_request", `${where} must be a positive integer, got ${value}`);
  return value;
}

async function readObject(ctx: LeaseRouteContext, req: Request): Promise<{ text: string; body: JsonObject }> {
  const text = await readBodyText(req, ctx.options.maxBodyBytes);
  return { text, body: parseJsonObject(text) };
}

function onlyFields(body: JsonObject, allowed: string[]): void {
  for (const name of Object.keys(body)) {
    if (!allowed.includes(name)) throw new QklzlError("bad_request", `unknown field ${JSON.stringify(name)}; expected ${allowed.join(", ")}`);
  }
}

/** leaseRoutes: the lease paths and their handlers, run through `leaderOnly`. */
export function leaseRoutes<C extends LeaseRouteContext>(run: LeaderRunner<C>) {
  /** POST /lease/grant {"ttl": seconds, "id"?: n} -> {"id","ttl"} (the TTL granted: raised to the minimum). */
  const postGrant: LeaseHandler<C> = async (ctx, req, target) => {
    const { text, body } = await readObject(ctx, req);
    onlyFields(body, ["ttl", "id"]);
    if (body.ttl === undefined) throw new QklzlError("bad_request", 'missing field "ttl" (seconds)');
    if (typeof body.ttl !== "number") throw new QklzlError("bad_request", `field "ttl" must be a number, got ${describeJsonType(body.ttl)}`);
    const ttl = body.ttl;
    const id = body.id === undefined ? undefined : parseLeaseId(body.id, 'field "id"');
    return run(ctx, req, target, { wanted: true, body: text }, () => ctx.api.leaseGrant(ttl, id), (granted) => Response.json(granted));
  };

  /** POST /lease/revoke {"id"} -> {"ok":true,"revision","deleted"}. */
  const postRevoke: LeaseHandler<C> = async (ctx, req, target) => {
    const { text, body } = await readObject(ctx, req);
    onlyFields(body, ["id"]);
    const id = parseLeaseId(body.id, 'field "id"');
    return run(ctx, req, target, { wanted: true, body: text }, () => ctx.api.leaseRevoke(id), (r) => Response.json({ ok: true, ...r }));
  };

  /** POST /lease/keepalive {"id"} -> {"id","ttl"}: the lease's full TTL starts again now. */
  const postKeepAlive: LeaseHandler<C> = async (ctx, req, target) => {
    const { text, body } = await readObject(ctx, req);
    onlyFields(body, ["id"]);
    const id = parseLeaseId(body.id, 'field "id"');
    return run(ctx, req, target, { wanted: true, body: text }, () => ctx.api.leaseKeepAlive(id), (r) => Response.json(r));
  };

  /** GET /lease/ID[?keys=true] -> {"id","ttl","remaining_ms","granted_ttl"[,"keys"]}. */
  const getLease: LeaseHandler<C> = async (ctx, req, target) => {
    const id = parseLeaseId(decodeURIComponent(target.path.slice("/lease/".length)), "the lease id in the path");
    const keys = target.query.length === 0 ? false : parseFlag("keys", new URLSearchParams(target.query).get("keys"));
    return run(ctx, req, target, { wanted: true, body: null }, () => ctx.api.leaseTimeToLive(id, keys), (r) => Response.json(r));
  };

  /** GET /leases -> {"leases":[{"id","ttl"}...]} (granted TTLs, by id). */
  const getLeases: LeaseHandler<C> = async (ctx, req, target) => {
    return run(ctx, req, target, { wanted: true, body: null }, () => ctx.api.leaseList(), (leases) => Response.json({ leases }));
  };

  return {
    "/lease/grant": { POST: postGrant },
    "/lease/revoke": { POST: postRevoke },
    "/lease/keepalive": { POST: postKeepAlive },
    "/lease/:id": { GET: getLease },
    "/leases": { GET: getLeases },
  } as const;
}
