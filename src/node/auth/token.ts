import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Tokens are signed, not remembered (etcd's JWT provider rather than its "simple" tokens): "qk1.PAYLOAD.MAC",
 * PAYLOAD the base64url JSON {u: user, e: expiry in ms since the epoch}, MAC an HMAC-SHA256 keyed by the
 * secret in the replicated auth state over the payload and the user's password hash. So any member verifies a
 * token another member issued (a follower's forward to the leader carries it as is, and a restart keeps it),
 * a password change or a new `auth enable` (a new secret) invalidates every earlier token, and nothing is
 * stored per token. Deleting the user invalidates its tokens too (verify looks the user up).
 */
const token_prefix = "qk1";

export interface TokenClaims {
  user: string;
  expiresAt: number;
}

function mac(secret: string, payload: string, passwordHash: string): Buffer {
  return createHmac("sha256", Buffer.from(secret, "hex")).update(payload).update("\n").update(passwordHash).digest();
}

/** signToken: a token for `user` valid until `expiresAt` (ms since the epoch). */
export function signToken(secret: string, claims: TokenClaims, passwordHash: string): string {
  const payload = Buffer.from(JSON.stringify({ u: claims.user, e: claims.expiresAt })).toString("base64url");
  return `${token_prefix}.${payload}.${mac(secret, payload, passwordHash).toString("base64url")}`;
}

/** readClaims: the claims of a well-formed token, unverified (the caller then finds the user's hash); null if malformed. */
export function readClaims(token: string): (TokenClaims & { payload: string; mac: string }) | null {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== token_prefix) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as { u?: unknown; e?: unknown };
    if (typeof claims.u !== "string" || typeof claims.e !== "number") return null;
    return { user: claims.u, expiresAt: claims.e, payload: parts[1]!, mac: parts[2]! };
  } catch {
    return null;
  }
}

/** verifyMac: the token's MAC is the one `secret` and the user's current password hash give (constant time). */
export function verifyMac(secret: string, claims: { payload: string; mac: string }, passwordHash: string): boolean {
  const expected = mac(secret, claims.payload, passwordHash);
  const given = Buffer.from(claims.mac, "base64url");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
