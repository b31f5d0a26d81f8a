import type { ServiceDefinition } from "@grpc/grpc-js";
import type { Permission, PermType } from "../../kv/index.ts";
import type { AuthApi, AuthChange } from "../auth/auth_api.ts";
import { grpcCaller } from "./auth_gate.ts";
import type { EtcdBackend } from "./backend.ts";
import { bytes, type Msg, text } from "./codec.ts";
import { EtcdError } from "./errors.ts";
import { onLeader } from "./forward.ts";
import { header, unary } from "./rpc.ts";

/** httpCall: the auth API route and body of a change, for a follower to send it to the leader. */
function httpCall(change: AuthChange): { path: `/auth/${string}`; body: Record<string, unknown> } {
  switch (change.op) {
    case "enable":
    case "disable":
      return { path: `/auth/${change.op}`, body: {} };
    case "user_add":
    case "user_passwd":
      return { path: change.op === "user_add" ? "/auth/user/add" : "/auth/user/passwd", body: { name: change.name, password: change.password } };
    case "user_delete":
      return { path: "/auth/user/delete", body: { name: change.name } };
    case "user_grant":
    case "user_revoke":
      return { path: change.op === "user_grant" ? "/auth/user/grant-role" : "/auth/user/revoke-role", body: { name: change.name, role: change.role } };
    case "role_add":
    case "role_delete":
      return { path: change.op === "role_add" ? "/auth/role/add" : "/auth/role/delete", body: { name: change.name } };
    case "role_grant":
      return { path: "/auth/role/grant-permission", body: { name: change.name, ...change.permission } };
    case "role_revoke":
      return { path: "/auth/role/revoke-permission", body: { name: change.name, key: change.key, ...(change.range_end === undefined ? {} : { range_end: change.range_end }) } };
  }
}

/** perm_types: authpb.Permission.Type (enums arrive as their names) to qklzl's permission types and back. */
const perm_types: Record<string, PermType> = { READ: "read", WRITE: "write", READWRITE: "readwrite" };
const perm_names: Record<PermType, string> = { read: "READ", write: "WRITE", readwrite: "READWRITE" };

function name(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") throw new EtcdError(field === "user" ? "user_empty" : "bad_request", `${field} name is empty`);
  return value;
}

/** rangeEnd: etcd's bytes range_end ("" one key, "\0" from key) as qklzl's optional range_end. */
function rangeEnd(value: unknown): string | undefined {
  const end = text(value, "range_end");
  return end === "" ? undefined : end;
}

function permission(m: unknown): Permission {
  const p = (m ?? {}) as Msg;
  const type = perm_types[String(p.permType ?? "READ")];
  if (type === undefined) throw new EtcdError("bad_request", `unknown permission type ${String(p.permType)}`);
  const key = text(p.key, "key");
  const end = rangeEnd(p.range_end);
  return end === undefined ? { type, key } : { type, key, range_end: end };
}

/**
 * Auth: etcd's Auth service over the node's AuthApi (src/node/auth/). Changes go through the log, on a follower
 * through the leader's HTTP auth routes (with the call's token); reads are this member's state. The caller is
 * the call's token (auth_gate.ts).
 */
export function authService(backend: EtcdBackend, _service: ServiceDefinition, requestTimeoutMs = 5_000) {
  const auth = (): AuthApi => {
    if (backend.auth === undefined) throw new EtcdError("auth_not_enabled", "this node serves no auth");
    return backend.auth;
  };
  const change = (method: string, build: (m: Msg) => AuthChange) =>
    unary(`Auth/${method}`, async (m) => {
      const request = build(m);
      const api = auth();
      await onLeader(() => api.change(request, grpcCaller()), httpCall(request), requestTimeoutMs);
      // Made through the leader: wait until this member applied it too, so the client's next call here sees it.
      await api.sync();
      return { header: header(backend) };
    });
  return {
    Authenticate: unary("Auth/Authenticate", async (m) => {
      const answer = await auth().authenticate(name(m.name, "user"), String(m.password ?? ""));
      return { header: header(backend), token: answer.token };
    }),
    AuthStatus: unary("Auth/AuthStatus", () => {
      const status = backend.auth?.status() ?? { enabled: false, revision: 0 };
      return { header: header(backend), enabled: status.enabled, authRevision: String(status.revision) };
    }),
    AuthEnable: change("AuthEnable", () => ({ op: "enable" })),
    AuthDisable: change("AuthDisable", () => ({ op: "disable" })),
    UserAdd: change("UserAdd", (m) => {
      const noPassword = ((m.options ?? {}) as Msg).no_password === true;
      return { op: "user_add", name: name(m.name, "user"), password: noPassword ? "" : String(m.password ?? "") };
    }),
    UserDelete: change("UserDelete", (m) => ({ op: "user_delete", name: name(m.name, "user") })),
    UserChangePassword: change("UserChangePassword", (m) => ({ op: "user_passwd", name: name(m.name, "user"), password: String(m.password ?? "") })),
    UserGrantRole: change("UserGrantRole", (m) => ({ op: "user_grant", name: name(m.user, "user"), role: name(m.role, "role") })),
    UserRevokeRole: change("UserRevokeRole", (m) => ({ op: "user_revoke", name: name(m.name, "user"), role: name(m.role, "role") })),
    RoleAdd: change("RoleAdd", (m) => ({ op: "role_add", name: name(m.name, "role") })),
    RoleDelete: change("RoleDelete", (m) => ({ op: "role_delete", name: name(m.role, "role") })),
    RoleGrantPermission: change("RoleGrantPermission", (m) => ({ op: "role_grant", name: name(m.name, "role"), permission: permission(m.perm) })),
    RoleRevokePermission: change("RoleRevokePermission", (m) => {
      const end = rangeEnd(m.range_end);
      const key = text(m.key, "key");
      return end === undefined ? { op: "role_revoke", name: name(m.role, "role"), key } : { op: "role_revoke", name: name(m.role, "role"), key, range_end: end };
    }),
    UserGet: unary("Auth/UserGet", async (m) => ({ header: header(backend), roles: (await auth().user(name(m.name, "user"), grpcCaller())).roles })),
    UserList: unary("Auth/UserList", async () => ({ header: header(backend), users: await auth().users(grpcCaller()) })),
    RoleGet: unary("Auth/RoleGet", async (m) => ({
      header: header(backend),
      perm: (await auth().role(name(m.role, "role"), grpcCaller())).permissions.map((p) => ({ permType: perm_names[p.type], key: bytes(p.key), range_end: bytes(p.range_end ?? "") })),
    })),
    RoleList: unary("Auth/RoleList", async () => ({ header: header(backend), roles: await auth().roles(grpcCaller()) })),
  };
}
