import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { TestCluster } from "../node/harness.ts";

// `qklzl user|role|auth` and the global --user, run from source against an in-process node.

const entry = join(import.meta.dir, "..", "..", "src", "cli", "main.ts");
let cluster: TestCluster;
let addr = "";

beforeAll(async () => {
  cluster = new TestCluster();
  await cluster.bootstrap(1);
  addr = cluster.node(1).httpAddr;
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

async function qklzl(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([process.execPath, entry, ...args, "--addr", addr], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out.trim(), err: err.trim() };
}

describe("qklzl user, role, auth", () => {
  test("set up root, enable, a read-only user; --user with a password, from $QKLZL_PASSWORD, and refused without", async () => {
    expect((await qklzl(["user", "add", "root:pw"])).out).toBe("user root added (auth revision 1)");
    expect((await qklzl(["auth", "enable"])).out).toBe("root role granted to root; authentication enabled (auth revision 3)");
    const anonymous = await qklzl(["kv", "put", "app/a", "1"]);
    expect([anonymous.code, anonymous.err]).toEqual([1, expect.stringContaining("qklzl: unauthenticated:")]);
    expect((await qklzl(["kv", "put", "app/a", "1", "--user", "root:pw"])).code).toBe(0);
    expect((await qklzl(["role", "add", "reader", "--user", "root:pw"])).code).toBe(0);
    expect((await qklzl(["role", "grant-permission", "reader", "read", "--prefix", "app/", "--user", "root:pw"])).code).toBe(0);
    expect((await qklzl(["user", "add", "alice", "--user", "root:pw"], { QKLZL_NEW_PASSWORD: "apw" })).code).toBe(0);
    expect((await qklzl(["user", "grant-role", "alice", "reader", "--user", "root:pw"])).code).toBe(0);
    expect((await qklzl(["user", "get", "alice", "--json", "--user", "root:pw"])).out).toBe('{"name":"alice","roles":["reader"]}');
    expect((await qklzl(["role", "get", "reader", "--json", "--user", "root:pw"])).out).toBe('{"name":"reader","permissions":[{"type":"read","key":"app/","range_end":"app0"}]}');
    expect((await qklzl(["user", "list", "--user", "root:pw"])).out).toBe("alice\nroot");
    expect((await qklzl(["kv", "get", "app/a", "--user", "alice"], { QKLZL_PASSWORD: "apw" })).out).toBe("1");
    const write = await qklzl(["kv", "put", "app/a", "2", "--user", "alice:apw"]);
    expect([write.code, write.err]).toEqual([1, expect.stringContaining("qklzl: permission_denied:")]);
    const wrong = await qklzl(["kv", "get", "app/a", "--user", "alice:nope"]);
    expect(wrong.err).toContain("qklzl: auth_failed:");
    const noPassword = await qklzl(["kv", "get", "app/a", "--user", "alice"]);
    expect(noPassword.code).toBe(2);
    expect((await qklzl(["role", "revoke-permission", "reader", "--prefix", "app/", "--user", "root:pw"])).code).toBe(0);
    expect((await qklzl(["kv", "get", "app/a", "--user", "alice:apw"])).err).toContain("permission_denied");
    expect((await qklzl(["auth", "status"])).out).toBe("Authentication Status: true\nAuthRevision: 8");
    expect((await qklzl(["auth", "disable", "--user", "root:pw"])).code).toBe(0);
    expect((await qklzl(["kv", "get", "app/a"])).out).toBe("1");
  }, 60_000);
});
