import type { Caller } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import type { AuthApi } from "../auth/auth_api.ts";
import { scopeApi } from "../auth/scoped_api.ts";
import type { RouteContext } from "./context.ts";

/**
 * open_paths stay open with auth enabled: probes and metrics (operators' tools), the status page, the routes
 * members call on each other (join, leave, transfer-leader: peers are authenticated by mTLS, not by a user),
 * and the two auth routes a client needs before it has a token.
 */
export const open_paths: ReadonlySet<string> = new Set([
  "/status",
  "/livez",
  "/readyz",
  "/metrics",
  "/join",
  "/leave",
  "/transfer-leader",
  "/auth/authenticate",
  "/auth/status",
]);

/**
 * callerOf reads `Authorization: Bearer TOKEN` (a token from POST /auth/authenticate) or `Basic` (user and
 * password, as curl -u sends them). Null without the header; unauthenticated / auth_failed when it is bad.
 */
export async function callerOf(auth: AuthApi, req: Request): Promise<Caller | null> {
  const header = req.headers.get("authorization");
  if (header === null || header === "") return null;
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? "" : header.slice(space + 1).trim();
  if (scheme === "bearer") return auth.identifyToken(value);
  if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw new QklzlError("unauthenticated", "Basic credentials must be user:password");
    return auth.identifyPassword(decoded.slice(0, colon), decoded.slice(colon + 1));
  }
  throw new QklzlError("unauthenticated", `unsupported Authorization scheme ${JSON.stringify(scheme)}; use Bearer or Basic`);
}

/** needsCaller: auth is enabled and `path` is not open (admit then scopes the request to its caller). */
export function needsCaller(ctx: RouteContext, path: string): boolean {
  const auth = ctx.api.auth;
  return auth !== undefined && auth.enabled() && !open_paths.has(path);
}

/**
 * admit: the context a request on `path` runs with. With auth off (or on an open path) the shared one, unchanged
 * (no cost); with auth on, one whose api is scoped to the authenticated caller, or 401 unauthenticated.
 */
export async function admit(ctx: RouteContext, path: string, req: Request): Promise<RouteContext> {
  const auth = ctx.api.auth;
  if (auth === undefined || !auth.enabled() || open_paths.has(path)) return ctx;
  const caller = await callerOf(auth, req);
  if (caller === null) throw new QklzlError("unauthenticated", "auth is enabled: send Authorization: Bearer TOKEN (POST /auth/authenticate) or Basic user:password");
  return { ...ctx, api: scopeApi(ctx.api, auth, caller), caller };
}
