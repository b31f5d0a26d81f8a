import { afterEach, describe, expect, test } from "bun:test";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

type Reply = { status: number; body: Record<string, unknown> };

async function call(addr: string, method: string, path: string, body?: unknown, auth?: string): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth !== undefined) headers.authorization = auth;
  const response = await fetch(`http://${addr}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: "manual" });
  const text = await response.text();
  return { status: response.status, body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/** setUpAuth: root (root role) and alice (role reader: read on prefix app/), then auth enable; answers root's token. */
async function setUpAuth(addr: string): Promise<string> {
  const ok = async (path: string, body: unknown, auth?: string) => {
    const reply = await call(addr, "POST", path, body, auth);
    expect(reply).toMatchObject({ status: 200, body: { ok: true } });
    return reply;
  };
  await ok("/auth/user/add", { name: "root", password: "rootpw" });
  await ok("/auth/user/grant-role", { name: "root", role: "root" });
  await ok("/auth/role/add", { name: "reader" });
  await ok("/auth/role/grant-permission", { name: "reader", type: "read", key: "app/", prefix: true });
  await ok("/auth/user/add", { name: "alice", password: "alicepw" });
  await ok("/auth/user/grant-role", { name: "alice", role: "reader" });
  await ok("/auth/enable", {});
  const token = await call(addr, "POST", "/auth/authenticate", { name: "root", password: "rootpw" });
  expect(token.status).toBe(200);
  return `Bearer ${token.body.token as string}`;
}

/** protected_calls: every route that needs a user once auth is on (open: status, probes, metrics, member routes). */
const protected_calls: Array<[string, string, unknown?]> = [
  ["GET", "/kv?key=app/a"],
  ["GET", "/kv?prefix=app/"],
  ["POST", "/kv", { op: "put", key: "app/a", value: "1" }],
  ["POST", "/txn", { compare: [], success: [{ put: { key: "app/a", value: "1" } }], failure: [] }],
  ["POST", "/compact", { revision: 1 }],
  ["POST", "/snapshot"],
  ["GET", "/snapshot"],
  ["GET", "/watch?key=app/a"],
  ["POST", "/watch/progress", { id: 1 }],
  ["POST", "/lease/grant", { ttl: 10 }],
  ["POST", "/lease/revoke", { id: 1 }],
  ["POST", "/lease/keepalive", { id: 1 }],
  ["GET", "/lease/1"],
  ["GET", "/leases"],
  ["POST", "/auth/enable", {}],
  ["POST", "/auth/disable", {}],
  ["POST", "/auth/user/add", { name: "mallory", password: "x" }],
  ["POST", "/auth/user/delete", { name: "alice" }],
  ["POST", "/auth/user/passwd", { name: "root", password: "x" }],
  ["POST", "/auth/user/grant-role", { name: "alice", role: "root" }],
  ["POST", "/auth/user/revoke-role", { name: "alice", role: "reader" }],
  ["GET", "/auth/user?name=root"],
  ["GET", "/auth/users"],
  ["POST", "/auth/role/add", { name: "r2" }],
  ["POST", "/auth/role/delete", { name: "reader" }],
  ["POST", "/auth/role/grant-permission", { name: "reader", type: "readwrite", key: "a" }],
  ["POST", "/auth/role/revoke-permission", { name: "reader", key: "app/", prefix: true }],
  ["GET", "/auth/role?name=reader"],
  ["GET", "/auth/roles"],
];

describe("auth over HTTP", () => {
  test("every protected route is refused without a token (401) or with a bad one; root may do all; a read-only role reads but cannot write", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(1);
    const addr = cluster.node(1).httpAddr;
    // Before auth enable, everything is open.
    expect((await call(addr, "POST", "/kv", { op: "put", key: "app/a", value: "0" })).status).toBe(200);
    const root = await setUpAuth(addr);
    for (const [method, path, body] of protected_calls) {
      const none = await call(addr, method, path, body);
      expect({ path, status: none.status, error: none.body.error }).toEqual({ path, status: 401, error: "unauthenticated" });
      const bad = await call(addr, method, path, body, "Bearer qk1.eyJ1Ijoicm9vdCIsImUiOjk5OTk5OTk5OTk5OTl9.AAAA");
      expect({ path, status: bad.status, error: bad.body.error }).toEqual({ path, status: 401, error: "unauthenticated" });
    }
    for (const path of ["/status", "/livez", "/readyz", "/metrics", "/auth/status"]) {
      expect((await call(addr, "GET", path)).status).toBe(200);
    }
    expect((await call(addr, "GET", "/auth/status")).body).toMatchObject({ enabled: true });
    // root: everything.
    expect((await call(addr, "POST", "/kv", { op: "put", key: "app/a", value: "1" }, root)).status).toBe(200);
    expect((await call(addr, "POST", "/kv", { op: "put", key: "other", value: "1" }, root)).status).toBe(200);
    expect((await call(addr, "GET", "/kv?key=other", undefined, root)).body).toMatchObject({ value: "1" });
    expect((await call(addr, "GET", "/auth/users", undefined, root)).body).toEqual({ users: ["alice", "root"] });
    expect((await call(addr, "GET", "/auth/role?name=reader", undefined, root)).body).toEqual({
      name: "reader",
      permissions: [{ type: "read", key: "app/", range_end: "app0" }],
    });
    // alice (read on app/*): reads there, nothing else; Basic works as well as a token.
    const alice = basic("alice", "alicepw");
    expect((await call(addr, "GET", "/kv?key=app/a", undefined, alice)).body).toMatchObject({ key: "app/a", value: "1" });
    expect((await call(addr, "GET", "/kv?prefix=app/", undefined, alice)).status).toBe(200);
    const denied = [
      await call(addr, "GET", "/kv?key=other", undefined, alice),
      await call(addr, "GET", "/kv?prefix=", undefined, alice),
      await call(addr, "POST", "/kv", { op: "put", key: "app/a", value: "2" }, alice),
      await call(addr, "POST", "/kv", { op: "put", key: "app/a", value: "2", prev_kv: true }, alice),
      await call(addr, "POST", "/txn", { compare: [], success: [{ put: { key: "app/a", value: "2" } }], failure: [] }, alice),
      await call(addr, "POST", "/compact", { revision: 1 }, alice),
      await call(addr, "GET", "/snapshot", undefined, alice),
      await call(addr, "GET", "/auth/users", undefined, alice),
      await call(addr, "POST", "/auth/user/grant-role", { name: "alice", role: "root" }, alice),
    ];
    for (const reply of denied) expect({ status: reply.status, error: reply.body.error }).toEqual({ status: 403, error: "permission_denied" });
    expect((await call(addr, "GET", "/kv?key=app/a", undefined, alice)).body).toMatchObject({ value: "1" });
    // Wrong password; a deleted user's token stops working.
    expect((await call(addr, "GET", "/kv?key=app/a", undefined, basic("alice", "nope"))).body.error).toBe("auth_failed");
    expect((await call(addr, "POST", "/auth/authenticate", { name: "alice", password: "nope" })).status).toBe(401);
    const aliceToken = `Bearer ${(await call(addr, "POST", "/auth/authenticate", { name: "alice", password: "alicepw" })).body.token as string}`;
    expect((await call(addr, "GET", "/kv?key=app/a", undefined, aliceToken)).status).toBe(200);
    expect((await call(addr, "POST", "/auth/user/delete", { name: "alice" }, root)).status).toBe(200);
    expect((await call(addr, "GET", "/kv?key=app/a", undefined, aliceToken)).body.error).toBe("unauthenticated");
    // The root user cannot be deleted while auth is on; disable turns the checks off.
    expect((await call(addr, "POST", "/auth/user/delete", { name: "root" }, root)).body.error).toBe("invalid_auth_mgmt");
    expect((await call(addr, "POST", "/auth/disable", {}, root)).status).toBe(200);
    expect((await call(addr, "GET", "/kv?key=other")).status).toBe(200);
  }, 60_000);

  test("a follower forwards an authenticated write with its token; auth state and tokens survive a restart and a snapshot install", async () => {
    cluster = new TestCluster();
    const snapshotting = { snapshotEntries: 100, trailingEntries: 20 };
    await cluster.bootstrap(3, snapshotting);
    const root = await setUpAuth(cluster.node(1).httpAddr);
    await waitFor("auth reaches node 2", () => cluster.node(2).api.auth?.enabled());
    const follower = cluster.node(2).httpAddr;
    expect((await call(follower, "POST", "/kv?forward=true", { op: "put", key: "f", value: "1" })).status).toBe(401);
    expect((await call(follower, "POST", "/kv?forward=true", { op: "put", key: "f", value: "1" }, root)).status).toBe(200);
    expect((await call(follower, "POST", "/auth/role/add?forward=true", { name: "writer" }, root)).status).toBe(200);
    // Node 3 misses the rest, then catches up from a snapshot.
    await cluster.stop(3);
    expect((await call(cluster.node(1).httpAddr, "POST", "/auth/role/grant-permission", { name: "writer", type: "write", key: "w" }, root)).status).toBe(200);
    for (let i = 0; i < 250; i++) await cluster.node(1).api.write({ op: "put", key: `k${i % 10}`, value: `${i}` });
    await cluster.restart(3, snapshotting);
    await waitFor("node 3 installed a snapshot and caught up", () => cluster.status(3).snapshots_installed > 0 && cluster.status(3).kv_hash === cluster.status(1).kv_hash);
    expect(await cluster.node(3).api.auth?.role("writer", { user: "root", revision: 0 })).toEqual({ name: "writer", permissions: [{ type: "write", key: "w" }] });
    expect((await call(cluster.node(3).httpAddr, "GET", "/kv?key=f&consistency=stale")).status).toBe(401);
    expect((await call(cluster.node(3).httpAddr, "GET", "/kv?key=f&consistency=stale", undefined, root)).status).toBe(200);
    // A whole-cluster restart keeps users, roles, enabled and the token secret.
    for (const id of [1, 2, 3]) await cluster.stop(id);
    for (const id of [1, 2, 3]) await cluster.restart(id, snapshotting);
    await cluster.waitLeader();
    const any = cluster.node(1).httpAddr;
    expect((await call(any, "GET", "/auth/status")).body).toMatchObject({ enabled: true });
    expect((await call(any, "GET", "/kv?key=f", undefined, root)).body).toMatchObject({ value: "1" });
    expect((await call(any, "GET", "/kv?key=f")).status).toBe(401);
  }, 90_000);

  test("a permission revoked while writes are in flight: no write applied after the revoke's index succeeds", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    const addr = cluster.node(1).httpAddr;
    const root = await setUpAuth(addr);
    expect((await call(addr, "POST", "/auth/role/add", { name: "writer" }, root)).status).toBe(200);
    expect((await call(addr, "POST", "/auth/role/grant-permission", { name: "writer", type: "readwrite", key: "w/", prefix: true }, root)).status).toBe(200);
    expect((await call(addr, "POST", "/auth/user/add", { name: "bob", password: "bobpw" }, root)).status).toBe(200);
    expect((await call(addr, "POST", "/auth/user/grant-role", { name: "bob", role: "writer" }, root)).status).toBe(200);
    const bob = `Bearer ${(await call(addr, "POST", "/auth/authenticate", { name: "bob", password: "bobpw" })).body.token as string}`;
    const succeeded: number[] = [];
    const refused: string[] = [];
    let stop = false;
    const writer = async (w: number) => {
      // Each writer goes on for 3 writes after the revoke answered (those are refused by the proposer's check).
      for (let i = 0, after = 0; after < 3; i++) {
        if (stop) after++;
        const reply = await call(addr, "POST", "/kv", { op: "put", key: `w/${w}`, value: `${i}` }, bob);
        if (reply.status === 200) succeeded.push(reply.body.index as number);
        else refused.push(reply.body.error as string);
      }
    };
    const writers = Array.from({ length: 24 }, (_, w) => writer(w));
    await waitFor("writes flow", () => succeeded.length >= 50, 20_000);
    const revoke = await call(addr, "POST", "/auth/role/revoke-permission", { name: "writer", key: "w/", prefix: true }, root);
    expect(revoke.status).toBe(200);
    stop = true;
    await Promise.all(writers);
    const revokeIndex = revoke.body.index as number;
    expect(succeeded.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused)).toEqual(new Set(["permission_denied"]));
    expect(Math.max(...succeeded)).toBeLessThan(revokeIndex);
    // Every replica agrees (the refusals were decided in apply, the same everywhere).
    await waitFor("hashes agree", () => new Set([1, 2, 3].map((id) => cluster.status(id).kv_hash)).size === 1 && cluster.status(3).applied_index === cluster.status(1).applied_index);
  }, 90_000);
});
