import { afterEach, describe, expect, test } from "bun:test";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { etcdClient, type EtcdServiceName } from "../../../src/node/grpc/protos.ts";
import { TestCluster } from "../harness.ts";

// Auth over etcd's gRPC API: the token metadata on every call, the Auth service, etcd's codes and texts; the
// etcd3 npm client and the real etcdctl (skipped, saying so, when it is not on PATH).

let cluster: TestCluster;
const closers: Array<() => void> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await cluster?.close();
});

type Reply = Record<string, any>;

function connect(addr: string) {
  const clients = new Map<EtcdServiceName, any>();
  const client = (service: EtcdServiceName) => {
    if (!clients.has(service)) {
      const Ctor = etcdClient(service);
      clients.set(service, new Ctor(addr, credentials.createInsecure()));
    }
    return clients.get(service);
  };
  closers.push(() => {
    for (const c of clients.values()) c.close();
  });
  const metadata = (token?: string) => {
    const m = new Metadata();
    if (token !== undefined) m.set("token", token);
    return m;
  };
  return {
    call(service: EtcdServiceName, method: string, request: Reply, token?: string): Promise<Reply> {
      return new Promise((resolve, reject) => {
        client(service)[method](request, metadata(token), { deadline: new Date(Date.now() + 10_000) }, (error: ServiceError | null, reply: Reply) => (error ? reject(error) : resolve(reply)));
      });
    },
    stream(service: EtcdServiceName, method: string, token?: string): any {
      return client(service)[method](metadata(token));
    },
  };
}

async function rejection(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    return (error as Error).message;
  }
  return "(no error)";
}

async function failure(call: Promise<unknown>): Promise<[number, string]> {
  try {
    await call;
  } catch (error) {
    return [(error as ServiceError).code, (error as ServiceError).details];
  }
  throw new Error("the call was expected to fail");
}

/** unary_calls: one request of every unary method of the services auth guards. */
const unary_calls: Array<[EtcdServiceName, string, Reply]> = [
  ["KV", "Range", { key: Buffer.from("k") }],
  ["KV", "Put", { key: Buffer.from("k"), value: Buffer.from("v") }],
  ["KV", "DeleteRange", { key: Buffer.from("k") }],
  ["KV", "Txn", {}],
  ["KV", "Compact", { revision: "1" }],
  ["Lease", "LeaseGrant", { TTL: "10" }],
  ["Lease", "LeaseRevoke", { ID: "1" }],
  ["Lease", "LeaseTimeToLive", { ID: "1" }],
  ["Lease", "LeaseLeases", {}],
  ["Cluster", "MemberList", {}],
  ["Maintenance", "Status", {}],
  ["Maintenance", "Alarm", {}],
  ["Maintenance", "HashKV", {}],
  ["Auth", "AuthEnable", {}],
  ["Auth", "AuthDisable", {}],
  ["Auth", "UserAdd", { name: "x", password: "y" }],
  ["Auth", "UserGet", { name: "root" }],
  ["Auth", "UserList", {}],
  ["Auth", "UserDelete", { name: "x" }],
  ["Auth", "UserChangePassword", { name: "root", password: "z" }],
  ["Auth", "UserGrantRole", { user: "root", role: "r" }],
  ["Auth", "UserRevokeRole", { name: "root", role: "r" }],
  ["Auth", "RoleAdd", { name: "r" }],
  ["Auth", "RoleGet", { role: "root" }],
  ["Auth", "RoleList", {}],
  ["Auth", "RoleDelete", { role: "r" }],
  ["Auth", "RoleGrantPermission", { name: "r", perm: { permType: "READ", key: Buffer.from("a") } }],
  ["Auth", "RoleRevokePermission", { role: "r", key: Buffer.from("a") }],
];

async function startCluster(count: number) {
  cluster = new TestCluster();
  await cluster.bootstrap(count, { grpcAddr: "127.0.0.1:0" });
  const leader = await cluster.waitLeader();
  const follower = [...cluster.nodes.keys()].find((id) => id !== leader) ?? leader;
  return { leader, follower, grpc: (id: number) => cluster.node(id).grpcAddr! };
}

describe("auth over gRPC", () => {
  test("every method is refused without a token (etcd's code and text) and served with root's; a read-only role reads, cannot write", async () => {
    const { follower, grpc } = await startCluster(3);
    const etcd = connect(grpc(follower));
    await etcd.call("Auth", "UserAdd", { name: "root", password: "pw" });
    expect(await failure(etcd.call("Auth", "AuthEnable", {}))).toEqual([status.FAILED_PRECONDITION, "etcdserver: root user does not have root role"]);
    await etcd.call("Auth", "UserGrantRole", { user: "root", role: "root" });
    await etcd.call("Auth", "AuthEnable", {});
    expect((await etcd.call("Auth", "AuthStatus", {})).enabled).toBe(true);
    expect(await failure(etcd.call("Auth", "Authenticate", { name: "root", password: "bad" }))).toEqual([
      status.INVALID_ARGUMENT,
      "etcdserver: authentication failed, invalid user ID or password",
    ]);
    const token = (await etcd.call("Auth", "Authenticate", { name: "root", password: "pw" })).token as string;
    for (const [service, method, request] of unary_calls) {
      const none = await failure(etcd.call(service, method, request));
      expect({ method, none }).toEqual({ method, none: [status.INVALID_ARGUMENT, "etcdserver: user name is empty"] });
      const bad = await failure(etcd.call(service, method, request, "qk1.eyJ1Ijoicm9vdCIsImUiOjk5OTk5OTk5OTk5OTl9.AAAA"));
      expect({ method, bad }).toEqual({ method, bad: [status.UNAUTHENTICATED, "etcdserver: invalid auth token"] });
    }
    for (const [service, method] of [["Watch", "Watch"], ["Lease", "LeaseKeepAlive"]] as const) {
      const stream = etcd.stream(service, method);
      const ended = await new Promise<ServiceError>((resolve) => stream.on("error", resolve));
      expect([method, ended.code]).toEqual([method, status.INVALID_ARGUMENT]);
    }
    // With root's token: a write through a follower (forwarded with the token), reads, user management.
    await etcd.call("KV", "Put", { key: Buffer.from("app/a"), value: Buffer.from("1") }, token);
    await etcd.call("KV", "Put", { key: Buffer.from("other"), value: Buffer.from("1") }, token);
    expect((await etcd.call("KV", "Range", { key: Buffer.from("app/a") }, token)).kvs[0].value.toString()).toBe("1");
    await etcd.call("Auth", "RoleAdd", { name: "reader" }, token);
    await etcd.call("Auth", "RoleGrantPermission", { name: "reader", perm: { permType: "READ", key: Buffer.from("app/"), range_end: Buffer.from("app0") } }, token);
    await etcd.call("Auth", "UserAdd", { name: "alice", password: "apw" }, token);
    await etcd.call("Auth", "UserGrantRole", { user: "alice", role: "reader" }, token);
    expect((await etcd.call("Auth", "UserGet", { name: "alice" }, token)).roles).toEqual(["reader"]);
    expect((await etcd.call("Auth", "UserList", {}, token)).users).toEqual(["alice", "root"]);
    expect((await etcd.call("Auth", "RoleList", {}, token)).roles).toEqual(["reader"]);
    const perm = (await etcd.call("Auth", "RoleGet", { role: "reader" }, token)).perm;
    expect(perm.map((p: Reply) => [p.permType, p.key.toString(), p.range_end.toString()])).toEqual([["READ", "app/", "app0"]]);
    const alice = (await etcd.call("Auth", "Authenticate", { name: "alice", password: "apw" })).token as string;
    expect((await etcd.call("KV", "Range", { key: Buffer.from("app/a") }, alice)).kvs.length).toBe(1);
    const denied: [number, string] = [status.PERMISSION_DENIED, "etcdserver: permission denied"];
    expect(await failure(etcd.call("KV", "Range", { key: Buffer.from("other") }, alice))).toEqual(denied);
    expect(await failure(etcd.call("KV", "Put", { key: Buffer.from("app/a"), value: Buffer.from("2") }, alice))).toEqual(denied);
    expect(await failure(etcd.call("Auth", "UserList", {}, alice))).toEqual(denied);
    expect(await failure(etcd.call("Auth", "RoleAdd", { name: "reader" }, token))).toEqual([status.FAILED_PRECONDITION, "etcdserver: role name already exists"]);
    expect(await failure(etcd.call("Auth", "UserDelete", { name: "nobody" }, token))).toEqual([status.FAILED_PRECONDITION, "etcdserver: user name not found"]);
    // A watch with alice's token on her prefix is created; on another key it is refused.
    const watch = etcd.stream("Watch", "Watch", alice);
    const first = new Promise<Reply>((resolve, reject) => {
      watch.on("data", resolve);
      watch.on("error", reject);
    });
    watch.write({ create_request: { key: Buffer.from("app/a") } });
    expect((await first).created).toBe(true);
    watch.end();
    await etcd.call("Auth", "AuthDisable", {}, token);
    expect((await etcd.call("KV", "Range", { key: Buffer.from("other") })).kvs.length).toBe(1);
  }, 90_000);

  test("the etcd3 client with credentials; without them it is refused", async () => {
    const { follower, grpc } = await startCluster(1);
    const admin = new Etcd3({ hosts: [grpc(follower)], dialTimeout: 5_000 });
    closers.push(() => admin.close());
    await admin.user("root").create("pw");
    await admin.user("root").addRole("root");
    await admin.role("writer").create();
    await admin.role("writer").grant({ permission: "Readwrite", range: admin.range({ prefix: "w/" }) });
    await admin.user("bob").create("bobpw");
    await admin.user("bob").addRole("writer");
    await admin.auth.authEnable();
    const bob = new Etcd3({ hosts: [grpc(follower)], dialTimeout: 5_000, auth: { username: "bob", password: "bobpw" } });
    closers.push(() => bob.close());
    await bob.put("w/1").value("one");
    expect(await bob.get("w/1").string()).toBe("one");
    expect(await bob.getAll().prefix("w/").keys()).toEqual(["w/1"]);
    expect(await rejection(bob.put("x").value("1").exec())).toContain("etcdserver: permission denied");
    const anonymous = new Etcd3({ hosts: [grpc(follower)], dialTimeout: 5_000 });
    closers.push(() => anonymous.close());
    expect(await rejection(anonymous.get("w/1").string())).toContain("etcdserver: user name is empty");
    const root = new Etcd3({ hosts: [grpc(follower)], dialTimeout: 5_000, auth: { username: "root", password: "pw" } });
    closers.push(() => root.close());
    expect(await root.getRoles().then((roles) => roles.map((r) => r.name).sort())).toEqual(["writer"]);
  }, 60_000);

  const etcdctl = Bun.which("etcdctl");
  if (etcdctl === null) console.log("SKIP auth etcdctl test: etcdctl not found on PATH (apt-get install -y etcd-client)");
  test.skipIf(etcdctl === null)("etcdctl: user add, auth enable (its root-role dance), --user put/get, role grant-permission, user grant-role", async () => {
    const { follower, grpc } = await startCluster(3);
    const run = async (...args: string[]) => {
      const proc = Bun.spawn([etcdctl!, `--endpoints=${grpc(follower)}`, "--dial-timeout=5s", "--command-timeout=10s", ...args], {
        env: { ...process.env, ETCDCTL_API: "3" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { code, out: out.trim(), err: err.trim() };
    };
    expect((await run("user", "add", "root:pw")).out).toBe("User root created");
    expect((await run("auth", "enable")).out).toBe("Authentication Enabled");
    const anonymous = await run("put", "k", "v");
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.err).toContain("etcdserver: user name is empty");
    expect((await run("--user", "root:pw", "put", "k", "v")).out).toBe("OK");
    expect((await run("--user", "root:pw", "get", "k")).out).toBe("k\nv");
    expect((await run("--user", "root:pw", "role", "add", "ro")).out).toBe("Role ro created");
    expect((await run("--user", "root:pw", "role", "grant-permission", "ro", "read", "k")).out).toBe("Role ro updated");
    expect((await run("--user", "root:pw", "user", "add", "bob:x")).out).toBe("User bob created");
    expect((await run("--user", "root:pw", "user", "grant-role", "bob", "ro")).out).toBe("Role ro is granted to user bob");
    expect((await run("--user", "bob:x", "get", "k")).out).toBe("k\nv");
    const write = await run("--user", "bob:x", "put", "k", "2");
    expect(write.code).not.toBe(0);
    expect(write.err).toContain("etcdserver: permission denied");
    expect((await run("--user", "bob:nope", "get", "k")).err).toContain("etcdserver: authentication failed, invalid user ID or password");
    expect((await run("--user", "root:pw", "role", "get", "ro")).out).toContain("KV Read:\n\tk");
    for (const node of cluster.nodes.values()) expect((await node.api.auth!.role("ro", { user: "root", revision: 0 })).permissions.length).toBe(1);
  }, 90_000);
});
