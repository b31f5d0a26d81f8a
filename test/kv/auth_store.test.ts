import { describe, expect, test } from "bun:test";
import { encodeAuth, encodeRequest, KvStateMachine } from "../../src/kv/index.ts";
import type { AuthRequest, Caller } from "../../src/kv/index.ts";

const root: Caller = { user: "root", revision: 0 };
const alice: Caller = { user: "alice", revision: 0 };

function machine(): { kv: KvStateMachine; auth(request: AuthRequest, caller?: Caller | null): unknown; put(key: string, caller: Caller | null): unknown } {
  const kv = new KvStateMachine();
  let index = 0;
  return {
    kv,
    auth: (request, caller = null) => kv.applyEntry(++index, encodeAuth(request, caller)),
    put: (key, caller) => kv.applyEntry(++index, encodeRequest({ kind: "put", put: { key, value: "v" } }, undefined, caller)),
  };
}

function enabled() {
  const m = machine();
  m.auth({ op: "user_add", name: "root", password: "h" });
  m.auth({ op: "user_grant", name: "root", role: "root" });
  m.auth({ op: "role_add", name: "r" });
  m.auth({ op: "role_grant", name: "r", permission: { type: "write", key: "a", range_end: "c" } });
  m.auth({ op: "role_grant", name: "r", permission: { type: "readwrite", key: "c", range_end: "e" } });
  m.auth({ op: "user_add", name: "alice", password: "h" });
  m.auth({ op: "user_grant", name: "alice", role: "r" });
  m.auth({ op: "enable", secret: "00ff" });
  return m;
}

describe("auth store (apply)", () => {
  test("auth enable needs a root user with the root role; changes bump the revision; admin ops need root", () => {
    const m = machine();
    expect(m.auth({ op: "enable", secret: "00" })).toMatchObject({ kind: "error", error: { error: "root_user_missing" } });
    m.auth({ op: "user_add", name: "root", password: "h" });
    expect(m.auth({ op: "enable", secret: "00" })).toMatchObject({ kind: "error", error: { error: "root_role_missing" } });
    m.auth({ op: "user_grant", name: "root", role: "root" });
    expect(m.auth({ op: "enable", secret: "00" })).toEqual({ kind: "auth", auth: { revision: 3 } });
    expect(m.auth({ op: "role_add", name: "x" }, alice)).toMatchObject({ kind: "error", error: { error: "permission_denied" } });
    expect(m.auth({ op: "role_add", name: "x" }, null)).toMatchObject({ kind: "error", error: { error: "permission_denied" } });
    expect(m.auth({ op: "role_add", name: "x" }, root)).toEqual({ kind: "auth", auth: { revision: 4 } });
    expect(m.auth({ op: "role_add", name: "x" }, root)).toMatchObject({ kind: "error", error: { error: "role_exists" } });
    expect(m.kv.authState.revision).toBe(4);
  });

  test("writes are checked at apply: the union of a user's permissions must cover the key; a revoke stops the next write", () => {
    const m = enabled();
    expect(m.put("b", alice)).toMatchObject({ kind: "put" });
    expect(m.put("d", alice)).toMatchObject({ kind: "put" });
    expect(m.put("e", alice)).toMatchObject({ kind: "error", error: { error: "permission_denied" } });
    expect(m.put("zz", root)).toMatchObject({ kind: "put" });
    expect(m.put("b", { user: "ghost", revision: 0 })).toMatchObject({ kind: "error", error: { error: "permission_denied" } });
    // [a, e) is covered by [a, c) + [c, e) together.
    expect(() => m.kv.authState.checkRange(alice, "write", "a", "e")).not.toThrow();
    expect(() => m.kv.authState.checkRange(alice, "read", "a", "e")).toThrow("may not read");
    expect(() => m.kv.authState.checkRange(alice, "read", "c", "e")).not.toThrow();
    m.auth({ op: "role_revoke", name: "r", key: "a", range_end: "c" }, root);
    expect(m.put("b", alice)).toMatchObject({ kind: "error", error: { error: "permission_denied" } });
    // An entry without a caller (proposed before auth was on, or by the cluster) is not checked.
    expect(m.put("b", null)).toMatchObject({ kind: "put" });
  });

  test("the auth state is in snapshots (format 4) and in the hash; a store that never used auth keeps its hash and format", async () => {
    const plain = machine();
    plain.put("k", null);
    const before = plain.kv.stats().hash;
    const plainImage = await plain.kv.snapshot();
    expect(new TextDecoder().decode(plainImage.data.subarray(0, 4))).toBe("QKV2");
    const m = enabled();
    m.put("b", alice);
    const snap = await m.kv.snapshot();
    const restored = new KvStateMachine();
    await restored.restore(snap.data);
    expect(restored.stats().hash).toBe(m.kv.stats().hash);
    expect(restored.authState.image()).toEqual(m.kv.authState.image());
    expect(restored.authState.enabled).toBe(true);
    expect(m.kv.stats().hash).not.toBe(before);
    const other = new KvStateMachine();
    await other.restore(plainImage.data);
    expect(other.stats().hash).toBe(before);
    expect(other.authState.empty).toBe(true);
  });
});
