import { QklzlError } from "../shared/errors.ts";
import { validatePermission } from "./auth_store.ts";
import type { AuthRequest } from "./auth_types.ts";

/** auth_name_chars_max bounds user and role names (they live in the replicated state and in every token). */
export const auth_name_chars_max = 128;

/** validateAuthName: a user or role name: 1 to 128 characters, no control characters, no ":" (Basic auth splits on it). */
export function validateAuthName(value: unknown, what: "user" | "role"): string {
  if (typeof value !== "string" || value.length === 0) throw new QklzlError("bad_request", `${what} name must be a non-empty string`);
  if (value.length > auth_name_chars_max) throw new QklzlError("bad_request", `${what} name is over ${auth_name_chars_max} characters`);
  if (/[\u0000-\u001f\u007f:]/.test(value) || !value.isWellFormed()) {
    throw new QklzlError("bad_request", `${what} name ${JSON.stringify(value)} holds a control character, a ":" or a lone surrogate`);
  }
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw new QklzlError("bad_request", `${what} must be a string`);
  return value;
}

/** validateAuthRequest checks an auth change (an entry being decoded, or one built from a request). */
export function validateAuthRequest(input: unknown): AuthRequest {
  if (typeof input !== "object" || input === null) throw new QklzlError("bad_request", "an auth request must be an object");
  const r = input as Record<string, unknown>;
  switch (r.op) {
    case "enable":
      return { op: "enable", secret: text(r.secret, "secret") };
    case "disable":
      return { op: "disable" };
    case "user_add":
    case "user_passwd":
      return { op: r.op, name: validateAuthName(r.name, "user"), password: text(r.password, "password hash") };
    case "user_delete":
      return { op: "user_delete", name: validateAuthName(r.name, "user") };
    case "user_grant":
    case "user_revoke":
      return { op: r.op, name: validateAuthName(r.name, "user"), role: validateAuthName(r.role, "role") };
    case "role_add":
    case "role_delete":
      return { op: r.op, name: validateAuthName(r.name, "role") };
    case "role_grant":
      return { op: "role_grant", name: validateAuthName(r.name, "role"), permission: validatePermission(r.permission) };
    case "role_revoke": {
      const key = text(r.key, "key");
      if (key.length === 0) throw new QklzlError("bad_request", "key must not be empty");
      const rangeEnd = r.range_end === undefined || r.range_end === "" ? undefined : text(r.range_end, "range_end");
      return rangeEnd === undefined ? { op: "role_revoke", name: validateAuthName(r.name, "role"), key } : { op: "role_revoke", name: validateAuthName(r.name, "role"), key, range_end: rangeEnd };
    }
    default:
      throw new QklzlError("bad_request", `unknown auth op ${JSON.stringify(r.op ?? null)}`);
  }
}
