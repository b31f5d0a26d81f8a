import { describe, expect, test } from "bun:test";
import { AuthStore, type AuthRequest } from "../../../src/kv/index.ts";
import { createAuthApi } from "../../../src/node/auth/auth_api.ts";
import { signToken } from "../../../src/node/auth/token.ts";

// identifyToken remembers tokens it verified: a remembered token must still be refused the moment verifying
// it again would refuse it (a password change, the user deleted, a new secret, expiry, a snapshot install).

async function enabledStore(): Promise<{ state: { store: AuthStore }; hash: string }> {
  const hash = await Bun.password.hash("pw", { algorithm: "bcrypt", cost: 4 });
  const store = new AuthStore();
  const setup: AuthRequest[] = [
    { op: "user_add", name: "root", password: hash },
    { op: "role_add", name: "root" },
    { op: "user_grant", name: "root", role: "root" },
    { op: "user_add", name: "alice", password: hash },
    { op: "enable", secret: "ab".repeat(32) },
  ];
  for (const r of setup) store.apply(r, null);
  return { state: { store }, hash };
}

function apiOver(state: { store: AuthStore }) {
  return createAuthApi({ state: () => state.store, propose: async () => { throw new Error("unused"); }, barrier: async () => {} });
}

const root = { user: "root", revision: 0 };

describe("identifyToken's cache of verified tokens", () => {
  test("a known token answers the same caller until the auth revision moves, then the current one", async () => {
    const { state, hash } = await enabledStore();
    const api = apiOver(state);
    const token = signToken(state.store.secret, { user: "alice", expiresAt: Date.now() + 60_000 }, hash);
    const first = api.identifyToken(token);
    expect(first).toEqual({ user: "alice", revision: state.store.revision });
    expect(api.identifyToken(token)).toBe(first);
    state.store.apply({ op: "role_add", name: "other" }, root);
    expect(api.identifyToken(token)).toEqual({ user: "alice", revision: state.store.revision });
  });

  test("a password change refuses a token verified before it", async () => {
    const { state, hash } = await enabledStore();
    const api = apiOver(state);
    const token = signToken(state.store.secret, { user: "alice", expiresAt: Date.now() + 60_000 }, hash);
    api.identifyToken(token);
    state.store.apply({ op: "user_passwd", name: "alice", password: await Bun.password.hash("new", { algorithm: "bcrypt", cost: 4 }) }, root);
    expect(() => api.identifyToken(token)).toThrow(/invalid auth token/);
  });

  test("deleting the user, or disabling and enabling again (a new secret), refuses a token verified before", async () => {
    const { state, hash } = await enabledStore();
    const api = apiOver(state);
    const token = signToken(state.store.secret, { user: "alice", expiresAt: Date.now() + 60_000 }, hash);
    const rootToken = signToken(state.store.secret, { user: "root", expiresAt: Date.now() + 60_000 }, hash);
    api.identifyToken(token);
    api.identifyToken(rootToken);
    state.store.apply({ op: "user_delete", name: "alice" }, root);
    expect(() => api.identifyToken(token)).toThrow(/invalid auth token/);
    state.store.apply({ op: "disable" }, root);
    state.store.apply({ op: "enable", secret: "cd".repeat(32) }, null);
    expect(() => api.identifyToken(rootToken)).toThrow(/invalid auth token/);
  });

  test("a replaced store (a snapshot install) at the same revision is verified afresh", async () => {
    const { state, hash } = await enabledStore();
    const api = apiOver(state);
    const token = signToken(state.store.secret, { user: "alice", expiresAt: Date.now() + 60_000 }, hash);
    api.identifyToken(token);
    const image = state.store.image();
    state.store = AuthStore.restore({ ...image, users: image.users.filter((u) => u.name !== "alice") });
    expect(() => api.identifyToken(token)).toThrow(/invalid auth token/);
  });

  test("a known token is refused once it expires", async () => {
    const { state, hash } = await enabledStore();
    const api = apiOver(state);
    const token = signToken(state.store.secret, { user: "alice", expiresAt: Date.now() + 30 }, hash);
    api.identifyToken(token);
    await Bun.sleep(60);
    expect(() => api.identifyToken(token)).toThrow(/expired/);
  });
});
