import { prefixEnd, validateAuthName, validatePermission } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import type { JsonObject } from "../../shared/json.ts";
import type { AuthApi, AuthChange } from "../auth/auth_api.ts";
import { type Handler, leaderOnly, readObject, type RouteContext } from "./context.ts";

// The auth API (README "Authentication"): users, roles, permissions, auth enable/disable, tokens. Changes
// go through the log and are answered by the leader (a follower forwards, as /join); reads are local.

export const auth_route_paths = [
  "/auth/authenticate",
  "/auth/status",
  "/auth/enable",
  "/auth/disable",
  "/auth/user/add",
  "/auth/user/delete",
  "/auth/user/passwd",
  "/auth/user/grant-role",
  "/auth/user/revoke-role",
  "/auth/user",
  "/auth/users",
  "/auth/role/add",
  "/auth/role/delete",
  "/auth/role/grant-permission",
  "/auth/role/revoke-permission",
  "/auth/role",
  "/auth/roles",
] as const;

function authOf(ctx: RouteContext): AuthApi {
  if (ctx.api.auth === undefined) throw new QklzlError("not_found", "this node serves no auth API");
  return ctx.api.auth;
}

function field(body: JsonObject, name: string): unknown {
  if (body[name] === undefined) throw new QklzlError("bad_request", `missing field ${JSON.stringify(name)}`);
  return body[name];
}

function password(body: JsonObject): string {
  const value = field(body, "password");
  if (typeof value !== "string") throw new QklzlError("bad_request", 'field "password" must be a string');
  return value;
}

/** keyRange: {key, range_end?} or {key, prefix: true} (every key starting with key). */
function keyRange(body: JsonObject): { key: string; range_end?: string } {
  const key = field(body, "key");
  if (typeof key !== "string" || key.length === 0) throw new QklzlError("bad_request", 'field "key" must be a non-empty string');
  if (body.prefix === true) {
    if (body.range_end !== undefined) throw new QklzlError("bad_request", 'give "prefix" or "range_end", not both');
    return { key, range_end: prefixEnd(key) };
  }
  if (body.range_end === undefined || body.range_end === "") return { key };
  if (typeof body.range_end !== "string") throw new QklzlError("bad_request", 'field "range_end" must be a string');
  return { key, range_end: body.range_end };
}

/** changeRoute: a POST whose body becomes one auth change, proposed through the leader. */
function changeRoute(parse: (body: JsonObject) => AuthChange): Handler {
  return async (ctx, req, target) => {
    const auth = authOf(ctx);
    const { text, body } = await readObject(ctx, req);
    const change = parse(body);
    const response = await leaderOnly(ctx, req, target, { wanted: true, body: text }, () => auth.change(change, ctx.caller ?? null), (r) => Response.json({ ok: true, revision: r.revision, index: r.index }));
    // A change made through the leader is answered once this member applied it too: the client's next request
    // here (a token from a new user, a write after a grant) sees it.
    if (response.ok) await auth.sync();
    return response;
  };
}

const postAuthenticate: Handler = async (ctx, req) => {
  const auth = authOf(ctx);
  const { body } = await readObject(ctx, req);
  const name = validateAuthName(field(body, "name"), "user");
  return Response.json(await auth.authenticate(name, password(body)));
};

function nameParam(url: string): string {
  const name = new URL(url).searchParams.get("name");
  if (name === null) throw new QklzlError("bad_request", 'missing query parameter "name"');
  return name;
}

const user = (body: JsonObject) => validateAuthName(field(body, "name"), "user");
const role = (body: JsonObject) => validateAuthName(field(body, "name"), "role");

export const authRoutes: Record<(typeof auth_route_paths)[number], { GET?: Handler; POST?: Handler }> = {
  "/auth/authenticate": { POST: postAuthenticate },
  "/auth/status": { GET: (ctx) => Response.json(authOf(ctx).status()) },
  "/auth/enable": { POST: changeRoute(() => ({ op: "enable" })) },
  "/auth/disable": { POST: changeRoute(() => ({ op: "disable" })) },
  "/auth/user/add": { POST: changeRoute((b) => ({ op: "user_add", name: user(b), password: password(b) })) },
  "/auth/user/delete": { POST: changeRoute((b) => ({ op: "user_delete", name: user(b) })) },
  "/auth/user/passwd": { POST: changeRoute((b) => ({ op: "user_passwd", name: user(b), password: password(b) })) },
  "/auth/user/grant-role": { POST: changeRoute((b) => ({ op: "user_grant", name: user(b), role: validateAuthName(field(b, "role"), "role") })) },
  "/auth/user/revoke-role": { POST: changeRoute((b) => ({ op: "user_revoke", name: user(b), role: validateAuthName(field(b, "role"), "role") })) },
  "/auth/user": { GET: async (ctx, req) => Response.json(await authOf(ctx).user(nameParam(req.url), ctx.caller ?? null)) },
  "/auth/users": { GET: async (ctx) => Response.json({ users: await authOf(ctx).users(ctx.caller ?? null) }) },
  "/auth/role/add": { POST: changeRoute((b) => ({ op: "role_add", name: role(b) })) },
  "/auth/role/delete": { POST: changeRoute((b) => ({ op: "role_delete", name: role(b) })) },
  "/auth/role/grant-permission": {
    POST: changeRoute((b) => ({ op: "role_grant", name: role(b), permission: validatePermission({ type: field(b, "type"), ...keyRange(b) }) })),
  },
  "/auth/role/revoke-permission": { POST: changeRoute((b) => ({ op: "role_revoke", name: role(b), ...keyRange(b) })) },
  "/auth/role": { GET: async (ctx, req) => Response.json(await authOf(ctx).role(nameParam(req.url), ctx.caller ?? null)) },
  "/auth/roles": { GET: async (ctx) => Response.json({ roles: await authOf(ctx).roles(ctx.caller ?? null) }) },
};
