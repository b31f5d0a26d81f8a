import { createHash, randomBytes } from "node:crypto";
import {
  type AuthRequest,
  type AuthStore,
  type Caller,
  encodeAuth,
  type KvRequest,
  type Permission,
  validateAuthRequest,
} from "../../kv/index.ts";
import { type ErrorCode, QklzlError } from "../../shared/errors.ts";
import type { Applied } from "../proposals.ts";
import { readClaims, signToken, verifyMac } from "./token.ts";

/** token_ttl_ms_default: how long a token is valid (etcd's --auth-token-ttl default, 300 s). */
export const token_ttl_ms_default = 300_000;
/** password_cache_max bounds the verified-password cache of Basic auth (curl sends the password every time). */
const password_cache_max = 1024;

/**
 * AuthChange: an auth change as a client asks it: passwords in plain text (hashed here, before the entry is
 * proposed, so none enters the log), and `enable` without the secret (chosen here).
 */
export type AuthChange = Exclude<AuthRequest, { op: "enable" }> | { op: "enable" };

export interface UserJson {
  name: string;
  roles: string[];
}

export interface RoleJson {
  name: string;
  permissions: Permission[];
}

/** AuthApi: authentication and the auth state, for the HTTP routes and the gRPC Auth service. */
export interface AuthApi {
  enabled(): boolean;
  status(): { enabled: boolean; revision: number };
  /** authenticate: a token for a user and password (auth_not_enabled, auth_failed). */
  authenticate(name: string, password: string): Promise<{ token: string; ttl_ms: number }>;
  /** identifyToken: the caller a token names (unauthenticated when it is malformed, expired or stale). */
  identifyToken(token: string): Caller;
  /** identifyPassword: the caller for a user and password (Basic auth; auth_failed). */
  identifyPassword(name: string, password: string): Promise<Caller>;
  /** checkRead throws permission_denied unless the caller may read [key, rangeEnd) now. */
  checkRead(caller: Caller, key: string, rangeEnd: string | undefined): void;
  /** checkRequest: the proposer's check of a KV request before it enters the log (apply checks again). */
  checkRequest(caller: Caller, request: KvRequest): void;
  /** requireUser: the caller's user still exists (lease calls, watch progress). */
  requireUser(caller: Caller): void;
  /** requireAdmin: the caller holds the root role. */
  requireAdmin(caller: Caller): void;
  /** change proposes one auth change as `caller` (null while auth is off) and resolves once applied. */
  change(change: AuthChange, caller: Caller | null): Promise<{ revision: number; index: number }>;
  /** sync resolves once this member applied everything committed now (after a change made through the leader). */
  sync(): Promise<void>;
  /** user, users, role, roles: linearizable reads of the auth state (a change acknowledged anywhere is seen). */
  user(name: string, caller: Caller | null): Promise<UserJson>;
  users(caller: Caller | null): Promise<string[]>;
  role(name: string, caller: Caller | null): Promise<RoleJson>;
  roles(caller: Caller | null): Promise<string[]>;
}

export interface AuthApiContext {
  /** state: the applied auth state (read only). */
  state(): AuthStore;
  propose(data: Uint8Array): Promise<Applied>;
  /** barrier resolves once this member applied everything committed when it was called (a ReadIndex round). */
  barrier(): Promise<void>;
  tokenTtlMs?: number;
}

/** createAuthApi: the node's AuthApi over the replicated state (reads local, changes through the log). */
export function createAuthApi(context: AuthApiContext): AuthApi {
  const ttl = context.tokenTtlMs ?? token_ttl_ms_default;
  /** verified: sha256(name, password, hash) of passwords Basic auth checked, so curl does not pay a hash per request. */
  const verified = new Set<string>();

  const checkPassword = async (name: string, password: string): Promise<Caller> => {
    const state = context.state();
    const user = state.user(name);
    const failed = () => new QklzlError("auth_failed", "authentication failed: invalid user name or password");
    if (user === null || user.password === "") throw failed();
    const memo = createHash("sha256").update(`${name}\0${password}\0${user.password}`).digest("base64");
    if (!verified.has(memo)) {
      if (!(await Bun.password.verify(password, user.password))) throw failed();
      if (verified.size >= password_cache_max) verified.clear();
      verified.add(memo);
    }
    return { user: name, revision: context.state().revision };
  };

  const adminOrSelf = (caller: Caller | null, allowed: boolean) => {
    const state = context.state();
    if (!state.enabled || allowed) return;
    if (caller === null) throw new QklzlError("unauthenticated", "auth is enabled: authenticate first");
    state.requireAdmin(caller);
  };

  return {
    enabled: () => context.state().enabled,
    sync: () => context.barrier(),
    status: () => ({ enabled: context.state().enabled, revision: context.state().revision }),

    async authenticate(name, password) {
      // A user just added (through another member) must be able to authenticate here at once.
      await context.barrier();
      if (!context.state().enabled) throw new QklzlError("auth_not_enabled", "authentication is not enabled");
      await checkPassword(name, password);
      const state = context.state();
      const user = state.user(name);
      if (user === null) throw new QklzlError("auth_failed", "authentication failed: invalid user name or password");
      return { token: signToken(state.secret, { user: name, expiresAt: Date.now() + ttl }, user.password), ttl_ms: ttl };
    },

    identifyToken(token) {
      const state = context.state();
      const invalid = (why: string) => new QklzlError("unauthenticated", `invalid auth token: ${why}`);
      const claims = readClaims(token);
      if (claims === null) throw invalid("malformed");
      const user = state.user(claims.user);
      if (user === null || !verifyMac(state.secret, claims, user.password)) throw invalid("not signed by this cluster, or the user or password changed");
      if (claims.expiresAt <= Date.now()) throw invalid("expired; authenticate again");
      return { user: claims.user, revision: state.revision };
    },

    identifyPassword: checkPassword,

    checkRead: (caller, key, rangeEnd) => context.state().checkRange(caller, "read", key, rangeEnd),
    checkRequest: (caller, request) => context.state().checkRequest(caller, request),
    requireUser(caller) {
      if (context.state().enabled && context.state().user(caller.user) === null) {
        throw new QklzlError("permission_denied", `user ${JSON.stringify(caller.user)} does not exist`);
      }
    },
    requireAdmin: (caller) => context.state().requireAdmin(caller),

    async change(change, caller) {
      const state = context.state();
      if (state.enabled) {
        if (caller === null) throw new QklzlError("unauthenticated", "auth is enabled: authenticate first");
        state.requireAdmin(caller); // fast refusal; apply decides
      }
      let request: AuthRequest;
      if (change.op === "enable") request = { op: "enable", secret: randomBytes(32).toString("hex") };
      else if (change.op === "user_add" || change.op === "user_passwd") {
        const password = change.password === "" ? "" : await Bun.password.hash(change.password);
        request = { ...change, password };
      } else request = change;
      const applied = await context.propose(encodeAuth(validateAuthRequest(request), state.enabled ? caller : null));
      const response = applied.response;
      if (response?.kind === "error") throw new QklzlError(response.error.error as ErrorCode, response.error.message, response.error.details ?? {});
      if (response?.kind !== "auth") throw new QklzlError("internal", `the auth change at index ${applied.index} applied without an auth answer`);
      return { revision: response.auth.revision, index: applied.index };
    },

    async user(name, caller) {
      await context.barrier();
      adminOrSelf(caller, caller?.user === name);
      const user = context.state().user(name);
      if (user === null) throw new QklzlError("user_not_found", `user ${JSON.stringify(name)} does not exist`);
      return { name: user.name, roles: [...user.roles] };
    },
    async users(caller) {
      await context.barrier();
      adminOrSelf(caller, false);
      return context.state().userNames();
    },
    async role(name, caller) {
      await context.barrier();
      const state = context.state();
      adminOrSelf(caller, caller !== null && (state.user(caller.user)?.roles.includes(name) ?? false));
      const role = state.role(name);
      if (role === null) throw new QklzlError("role_not_found", `role ${JSON.stringify(name)} does not exist`);
      return { name: role.name, permissions: role.permissions.map((p) => ({ ...p })) };
    },
    async roles(caller) {
      await context.barrier();
      adminOrSelf(caller, false);
      return context.state().roleNames();
    },
  };
}
