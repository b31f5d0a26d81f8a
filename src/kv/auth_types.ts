/**
 * The data model of authentication (etcd v3's authpb and the Auth RPCs), in snake_case as the JSON API speaks
 * it. Passwords are never here in plain text: user_add / user_passwd carry a Bun.password hash made by the
 * node that received the request, before it proposed the entry.
 */

/** PermType: what a role may do over a key range (authpb.Permission.Type). */
export type PermType = "read" | "write" | "readwrite";

/**
 * Permission: one key (range_end absent), [key, range_end), or every key from `key` (range_end "\0"). A prefix
 * is [prefix, prefixEnd(prefix)).
 */
export interface Permission {
  type: PermType;
  key: string;
  range_end?: string;
}

export interface UserRecord {
  name: string;
  /** password: a Bun.password hash ("" for a user without a password, who cannot authenticate). */
  password: string;
  /** roles: sorted, no duplicates. */
  roles: string[];
}

export interface RoleRecord {
  name: string;
  /** permissions: sorted by (key, range_end); one per (key, range_end). */
  permissions: Permission[];
}

/** AuthImage: the whole replicated auth state (snapshots, restore). */
export interface AuthImage {
  enabled: boolean;
  /** revision: bumped by every auth change (etcd's auth revision). */
  revision: number;
  /** secret: the HMAC key of tokens (hex), chosen by the node that proposed `auth enable`; "" before that. */
  secret: string;
  users: UserRecord[];
  roles: RoleRecord[];
}

/** AuthRequest: one auth change, as a log entry carries it. */
export type AuthRequest =
  | { op: "enable"; secret: string }
  | { op: "disable" }
  | { op: "user_add"; name: string; password: string }
  | { op: "user_delete"; name: string }
  | { op: "user_passwd"; name: string; password: string }
  | { op: "user_grant"; name: string; role: string }
  | { op: "user_revoke"; name: string; role: string }
  | { op: "role_add"; name: string }
  | { op: "role_delete"; name: string }
  | { op: "role_grant"; name: string; permission: Permission }
  | { op: "role_revoke"; name: string; key: string; range_end?: string };

export interface AuthResponse {
  /** revision: the auth revision after the change. */
  revision: number;
}

/**
 * Caller: who proposed an entry and at which auth revision the proposing node checked them. Apply checks the
 * caller again against the auth state at that point of the log (etcd's rule: a revoke cannot race a write).
 */
export interface Caller {
  user: string;
  revision: number;
}

export const root_user = "root";
export const root_role = "root";
