import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { type AuthImage, type AuthRequest, type AuthResponse, type Caller, type Permission, type PermType, type RoleRecord, root_role, root_user, type UserRecord } from "./auth_types.ts";
import { compareKeys, from_key_range_end } from "./key_order.ts";
import type { KvRequest, RequestOp, TxnRequest } from "./mvcc_types.ts";

const auth_hash_seed = 0x61757468n; // "auth"

/**
 * AuthStore is the replicated auth state (etcd's server/auth/store.go): users with password hashes and roles,
 * roles with key permissions, whether auth is enabled, the auth revision and the token secret. apply must be
 * deterministic (it is part of the state machine): hashes and the secret arrive made in the entry.
 */
export class AuthStore {
  private users = new Map<string, UserRecord>();
  private roles = new Map<string, RoleRecord>();
  private on = false;
  private rev = 0;
  private key = "";
  /** hashCache: contentHash of the current state (null: not computed since the last change). */
  private hashCache: bigint | null = null;

  get enabled(): boolean {
    return this.on;
  }

  /** revision: the auth revision (0 until the first auth change). */
  get revision(): number {
    return this.rev;
  }

  /** secret: the token HMAC key (hex); "" until auth was first enabled. */
  get secret(): string {
    return this.key;
  }

  /** empty: nothing was ever changed (snapshots then carry no auth section and the hash is unchanged). */
  get empty(): boolean {
    return this.rev === 0;
  }

  user(name: string): UserRecord | null {
    return this.users.get(name) ?? null;
  }

  role(name: string): RoleRecord | null {
    return this.roles.get(name) ?? null;
  }

  userNames(): string[] {
    return [...this.users.keys()].sort();
  }

  roleNames(): string[] {
    return [...this.roles.keys()].sort();
  }

  /** isRoot: the user exists and holds the root role (every permission, every admin operation). */
  isRoot(name: string): boolean {
    return this.users.get(name)?.roles.includes(root_role) ?? false;
  }

  /**
   * apply makes one change, as `caller` (null: unchecked, e.g. before auth was enabled). Throws the refusal
   * (user_exists, role_not_found, permission_denied...) and changes nothing then; every change bumps the revision.
   */
  apply(request: AuthRequest, caller: Caller | null): AuthResponse {
    if (this.on) this.requireAdmin(caller);
    this.change(request);
    this.rev++;
    this.hashCache = null;
    return { revision: this.rev };
  }

  private change(request: AuthRequest): void {
    switch (request.op) {
      case "enable": {
        if (this.on) return;
        const root = this.users.get(root_user);
        if (root === undefined) throw new QklzlError("root_user_missing", "auth cannot be enabled: the root user does not exist");
        if (!root.roles.includes(root_role)) throw new QklzlError("root_role_missing", "auth cannot be enabled: the root user does not have the root role");
        this.on = true;
        this.key = request.secret;
        return;
      }
      case "disable":
        this.on = false;
        return;
      case "user_add":
        if (this.users.has(request.name)) throw new QklzlError("user_exists", `user ${JSON.stringify(request.name)} already exists`);
        this.users.set(request.name, { name: request.name, password: request.password, roles: [] });
        return;
      case "user_delete":
        this.existingUser(request.name);
        if (this.on && request.name === root_user) throw new QklzlError("invalid_auth_mgmt", "the root user cannot be deleted while auth is enabled");
        this.users.delete(request.name);
        return;
      case "user_passwd": {
        const user = this.existingUser(request.name);
        this.users.set(user.name, { ...user, password: request.password });
        return;
      }
      case "user_grant": {
        const user = this.existingUser(request.name);
        if (request.role !== root_role) this.existingRole(request.role);
        if (user.roles.includes(request.role)) return;
        this.users.set(user.name, { ...user, roles: [...user.roles, request.role].sort() });
        return;
      }
      case "user_revoke": {
        const user = this.existingUser(request.name);
        if (this.on && request.name === root_user && request.role === root_role) {
          throw new QklzlError("invalid_auth_mgmt", "the root role cannot be revoked from the root user while auth is enabled");
        }
        if (!user.roles.includes(request.role)) throw new QklzlError("role_not_granted", `role ${JSON.stringify(request.role)} is not granted to user ${JSON.stringify(user.name)}`);
        this.users.set(user.name, { ...user, roles: user.roles.filter((r) => r !== request.role) });
        return;
      }
      case "role_add":
        if (this.roles.has(request.name)) throw new QklzlError("role_exists", `role ${JSON.stringify(request.name)} already exists`);
        this.roles.set(request.name, { name: request.name, permissions: [] });
        return;
      case "role_delete":
        this.existingRole(request.name);
        if (this.on && request.name === root_role) throw new QklzlError("invalid_auth_mgmt", "the root role cannot be deleted while auth is enabled");
        this.roles.delete(request.name);
        for (const user of [...this.users.values()]) {
          if (user.roles.includes(request.name)) this.users.set(user.name, { ...user, roles: user.roles.filter((r) => r !== request.name) });
        }
        return;
      case "role_grant": {
        const role = this.existingRole(request.name);
        const p = request.permission;
        const others = role.permissions.filter((q) => !samePermRange(q, p.key, p.range_end));
        this.roles.set(role.name, { ...role, permissions: [...others, p].sort(comparePerms) });
        return;
      }
      case "role_revoke": {
        const role = this.existingRole(request.name);
        const kept = role.permissions.filter((q) => !samePermRange(q, request.key, request.range_end));
        if (kept.length === role.permissions.length) {
          throw new QklzlError("permission_not_granted", `role ${JSON.stringify(role.name)} has no permission on ${describeRange(request.key, request.range_end)}`);
        }
        this.roles.set(role.name, { ...role, permissions: kept });
        return;
      }
    }
  }

  private existingUser(name: string): UserRecord {
    const user = this.users.get(name);
    if (user === undefined) throw new QklzlError("user_not_found", `user ${JSON.stringify(name)} does not exist`);
    return user;
  }

  private existingRole(name: string): RoleRecord {
    const role = this.roles.get(name);
    if (role === undefined) throw new QklzlError("role_not_found", `role ${JSON.stringify(name)} does not exist`);
    return role;
  }

  /** requireAdmin: with auth on, user and role management (and compaction) need the root role. */
  requireAdmin(caller: Caller | null): void {
    if (!this.on) return;
    const user = this.existingCaller(caller);
    if (!user.roles.includes(root_role)) throw new QklzlError("permission_denied", `user ${JSON.stringify(user.name)} does not have the root role`);
  }

  private existingCaller(caller: Caller | null): UserRecord {
    if (caller === null) throw new QklzlError("permission_denied", "the request names no user and auth is enabled");
    const user = this.users.get(caller.user);
    if (user === undefined) throw new QklzlError("permission_denied", `user ${JSON.stringify(caller.user)} does not exist`);
    return user;
  }

  /**
   * checkRange throws permission_denied unless auth is off, the caller is root, or the union of the caller's
   * permissions of that kind covers the whole range (one key, [key, range_end), from-key with "\0").
   */
  checkRange(caller: Caller | null, need: "read" | "write", key: string, rangeEnd: string | undefined): void {
    if (!this.on) return;
    const user = this.existingCaller(caller);
    if (user.roles.includes(root_role)) return;
    const spans: Array<[string, string | null]> = [];
    for (const name of user.roles) {
      for (const p of this.roles.get(name)?.permissions ?? []) {
        if (p.type === need || p.type === "readwrite") spans.push([p.key, spanEnd(p.key, p.range_end)]);
      }
    }
    if (!covers(spans, key, spanEnd(key, rangeEnd))) {
      throw new QklzlError("permission_denied", `user ${JSON.stringify(user.name)} may not ${need} ${describeRange(key, rangeEnd)}`);
    }
  }

  /** checkRequest: what a KV request needs (etcd's checks at apply): reads of compares and ranges, writes. */
  checkRequest(caller: Caller | null, request: KvRequest): void {
    if (!this.on) return;
    switch (request.kind) {
      case "put":
        this.checkRange(caller, "write", request.put.key, undefined);
        if (request.put.prev_kv === true) this.checkRange(caller, "read", request.put.key, undefined);
        return;
      case "delete_range":
        this.checkRange(caller, "write", request.delete_range.key, request.delete_range.range_end);
        if (request.delete_range.prev_kv === true) this.checkRange(caller, "read", request.delete_range.key, request.delete_range.range_end);
        return;
      case "txn":
        this.checkTxn(caller, request.txn);
        return;
      case "compact":
        this.requireAdmin(caller);
        return;
      case "lease_grant":
      case "lease_revoke":
        this.existingCaller(caller);
        return;
    }
  }

  private checkTxn(caller: Caller | null, txn: TxnRequest): void {
    for (const c of txn.compare) this.checkRange(caller, "read", c.key, c.range_end);
    const ops: RequestOp[] = [...txn.success, ...txn.failure];
    for (const op of ops) {
      if ("range" in op) this.checkRange(caller, "read", op.range.key, op.range.range_end);
      else if ("put" in op) this.checkRequest(caller, { kind: "put", put: op.put });
      else if ("delete_range" in op) this.checkRequest(caller, { kind: "delete_range", delete_range: op.delete_range });
      else this.checkTxn(caller, op.txn);
    }
  }

  /** contentHash: 0 while nothing changed (the store hash of a cluster that never used auth is as before). */
  get contentHash(): bigint {
    if (this.rev === 0) return 0n;
    this.hashCache ??= Bun.hash.wyhash(JSON.stringify(this.image()), auth_hash_seed);
    return this.hashCache;
  }

  /** image: the whole state, in a canonical order (sorted names). */
  image(): AuthImage {
    return {
      enabled: this.on,
      revision: this.rev,
      secret: this.key,
      users: this.userNames().map((n) => this.users.get(n)!),
      roles: this.roleNames().map((n) => this.roles.get(n)!),
    };
  }

  /** restore: a store holding `image` (from a snapshot); throws on an inconsistent one. */
  static restore(image: AuthImage): AuthStore {
    const store = new AuthStore();
    assert(Number.isSafeInteger(image.revision) && image.revision >= 0, "auth: revision is a count");
    assert(typeof image.enabled === "boolean" && typeof image.secret === "string", "auth: enabled and secret");
    for (const role of image.roles) {
      assert(typeof role.name === "string" && Array.isArray(role.permissions), "auth: a role has a name and permissions");
      store.roles.set(role.name, { name: role.name, permissions: role.permissions.map(validatePermission) });
    }
    for (const user of image.users) {
      assert(typeof user.name === "string" && typeof user.password === "string" && Array.isArray(user.roles), "auth: a user record");
      store.users.set(user.name, { name: user.name, password: user.password, roles: [...user.roles].sort() });
    }
    if (image.enabled) assert(store.isRoot(root_user), "auth: enabled without a root user holding the root role");
    store.on = image.enabled;
    store.rev = image.revision;
    store.key = image.secret;
    return store;
  }
}

/** validatePermission checks untrusted input (a request body, an entry) and returns a clean Permission. */
export function validatePermission(input: unknown): Permission {
  if (typeof input !== "object" || input === null) throw new QklzlError("bad_request", "a permission must be an object");
  const p = input as Record<string, unknown>;
  if (p.type !== "read" && p.type !== "write" && p.type !== "readwrite") {
    throw new QklzlError("bad_request", 'permission type must be "read", "write" or "readwrite"');
  }
  if (typeof p.key !== "string" || p.key.length === 0) throw new QklzlError("bad_request", "permission key must be a non-empty string");
  if (p.range_end !== undefined && typeof p.range_end !== "string") throw new QklzlError("bad_request", "permission range_end must be a string");
  const rangeEnd = p.range_end === "" ? undefined : (p.range_end as string | undefined);
  if (rangeEnd !== undefined && rangeEnd !== from_key_range_end && compareKeys(rangeEnd, p.key) <= 0) {
    throw new QklzlError("bad_request", "permission range_end must be after key");
  }
  return rangeEnd === undefined ? { type: p.type as PermType, key: p.key } : { type: p.type as PermType, key: p.key, range_end: rangeEnd };
}

/** spanEnd: the exclusive end of a key range; null is "no end" (from-key). One key k is [k, k + "\0"). */
function spanEnd(key: string, rangeEnd: string | undefined): string | null {
  if (rangeEnd === undefined || rangeEnd === "") return `${key}\0`;
  return rangeEnd === from_key_range_end ? null : rangeEnd;
}

/** covers: the spans' union holds [start, end) (end null: unbounded). */
function covers(spans: Array<[string, string | null]>, start: string, end: string | null): boolean {
  spans.sort((a, b) => compareKeys(a[0], b[0]));
  let reached = start;
  for (const [from, to] of spans) {
    if (compareKeys(from, reached) > 0) break;
    if (to === null) return true;
    if (compareKeys(to, reached) > 0) reached = to;
    if (end !== null && compareKeys(reached, end) >= 0) return true;
  }
  return end !== null && compareKeys(reached, end) >= 0;
}

function samePermRange(p: Permission, key: string, rangeEnd: string | undefined): boolean {
  return p.key === key && (p.range_end ?? "") === (rangeEnd ?? "");
}

function comparePerms(a: Permission, b: Permission): number {
  return compareKeys(a.key, b.key) || compareKeys(a.range_end ?? "", b.range_end ?? "");
}

function describeRange(key: string, rangeEnd: string | undefined): string {
  if (rangeEnd === undefined || rangeEnd === "") return `key ${JSON.stringify(key)}`;
  if (rangeEnd === from_key_range_end) return `keys from ${JSON.stringify(key)}`;
  return `keys [${JSON.stringify(key)}, ${JSON.stringify(rangeEnd)})`;
}
