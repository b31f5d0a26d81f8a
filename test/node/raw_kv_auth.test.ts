import { afterEach, expect, test } from "bun:test";
import { TestCluster } from "./harness.ts";

// PUT /kv/KEY and GET /kv/KEY while auth is enabled: the raw routes need a user like POST /kv and GET /kv, and
// a raw put is checked as a write of its key (at the route and, with the caller in the entry, at apply).

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

async function call(addr: string, method: string, path: string, body?: string, auth?: string, type = "application/octet-stream"): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = body === undefined ? {} : { "content-type": type };
  if (auth !== undefined) headers.authorization = auth;
  const response = await fetch(`http://${addr}${path}`, { method, headers, body });
  return { status: response.status, text: await response.text() };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const error = (reply: { text: string }) => (JSON.parse(reply.text) as { error: string }).error;

test("with auth on, the raw routes need a user and the key's rights", async () => {
  cluster = new TestCluster();
  await cluster.bootstrap(1);
  const addr = cluster.node(1).httpAddr;
  const json = async (path: string, body: unknown) => {
    const reply = await call(addr, "POST", path, JSON.stringify(body), undefined, "application/json");
    expect({ path, status: reply.status }).toEqual({ path, status: 200 });
  };
  expect((await call(addr, "PUT", "/kv/app%2Fa", "before auth")).status).toBe(200);
  await json("/auth/user/add", { name: "root", password: "rootpw" });
  await json("/auth/user/grant-role", { name: "root", role: "root" });
  await json("/auth/role/add", { name: "reader" });
  await json("/auth/role/grant-permission", { name: "reader", type: "read", key: "app/", prefix: true });
  await json("/auth/user/add", { name: "alice", password: "alicepw" });
  await json("/auth/user/grant-role", { name: "alice", role: "reader" });
  await json("/auth/enable", {});
  const root = basic("root", "rootpw");
  const alice = basic("alice", "alicepw");

  for (const [method, body] of [["PUT", "x"], ["GET", undefined]] as const) {
    const none = await call(addr, method, "/kv/app%2Fa", body);
    expect({ method, status: none.status, error: error(none) }).toEqual({ method, status: 401, error: "unauthenticated" });
  }
  expect((await call(addr, "PUT", "/kv/app%2Fa", "by root", root)).status).toBe(200);
  expect(await call(addr, "GET", "/kv/app%2Fa", undefined, alice)).toEqual({ status: 200, text: "by root" });
  const denied = [await call(addr, "PUT", "/kv/app%2Fa", "by alice", alice), await call(addr, "PUT", "/kv/app%2Fa?prev_kv=true", "by alice", alice), await call(addr, "GET", "/kv/other", undefined, alice)];
  for (const reply of denied) expect({ status: reply.status, error: error(reply) }).toEqual({ status: 403, error: "permission_denied" });
  expect(await call(addr, "GET", "/kv/app%2Fa", undefined, root)).toEqual({ status: 200, text: "by root" });

  // A large plain POST /kv (read without JSON.parse: NodeApi.putUtf8) is checked like any JSON put.
  const big = "B".repeat(5000);
  const post = (who: string | undefined) => call(addr, "POST", "/kv", JSON.stringify({ op: "put", key: "app/big", value: big }), who, "application/json");
  const anonymous = await post(undefined);
  expect({ status: anonymous.status, error: error(anonymous) }).toEqual({ status: 401, error: "unauthenticated" });
  const byAlice = await post(alice);
  expect({ status: byAlice.status, error: error(byAlice) }).toEqual({ status: 403, error: "permission_denied" });
  expect((await post(root)).status).toBe(200);
  expect(await call(addr, "GET", "/kv/app%2Fbig", undefined, alice)).toEqual({ status: 200, text: big });
}, 60_000);
