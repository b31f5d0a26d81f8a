import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fastFlags } from "../../scenarios/harness.ts";
import { EtcdCluster } from "./etcd_support.ts";

// Issue 14 (foundation): the real etcdctl (Debian's etcd-client, 3.4) against a 3-node cluster of the binary,
// unchanged: put/get/del, member list, endpoint status, endpoint health. Skipped, saying so, without etcdctl.

const etcdctl = Bun.which("etcdctl");
if (etcdctl === null) {
  console.log("SKIP test/cluster/etcdctl.test.ts: etcdctl not found on PATH (install it: apt-get install -y etcd-client)");
}

interface Run {
  code: number;
  out: string;
  err: string;
}

describe.skipIf(etcdctl === null)("etcdctl against qklzl", () => {
  let cluster: EtcdCluster;

  beforeAll(async () => {
    cluster = new EtcdCluster({ name: "etcdctl", extraArgs: fastFlags });
    await cluster.explain(() => cluster.startFresh());
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  async function run(endpoints: number[], ...args: string[]): Promise<Run> {
    const argv = [etcdctl!, `--endpoints=${endpoints.map((id) => cluster.grpcAddr(id)).join(",")}`, "--dial-timeout=5s", "--command-timeout=10s", ...args];
    const proc = Bun.spawn(argv, { env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, out: out.trim(), err: err.trim() };
  }

  async function ok(endpoints: number[], ...args: string[]): Promise<string> {
    const result = await run(endpoints, ...args);
    if (result.code !== 0) throw new Error(`etcdctl ${args.join(" ")} exited ${result.code}: ${result.err}`);
    return result.out;
  }

  async function roles(): Promise<{ leader: number; followers: number[] }> {
    const view = await cluster.waitForLeader({ deadlineMs: 15_000 });
    return { leader: view.leaderId, followers: [1, 2, 3].filter((id) => id !== view.leaderId) };
  }

  test("put through a follower, get through the other, del twice", async () => {
    const { followers: [f1, f2] } = await roles();
    expect(await ok([f1!], "put", "fruit", "apple")).toBe("OK");
    expect(await ok([f2!], "get", "fruit")).toBe("fruit\napple");
    expect(await ok([f2!], "get", "fruit", "--print-value-only", "--consistency=s")).toBe("apple");
    expect(await ok([f2!], "get", "missing")).toBe("");
    expect(await ok([f1!], "del", "fruit")).toBe("1");
    expect(await ok([f1!], "del", "fruit")).toBe("0");
    expect(await ok([f2!], "get", "fruit")).toBe("");
  });

  test("get -w json shows the header etcd's clients read (uint64 ids, raft term)", async () => {
    await ok([1], "put", "j", "v");
    const json = await ok([2], "get", "j", "-w", "json");
    expect(json).toMatch(/"header":\{"cluster_id":[0-9]+,"member_id":[0-9]+,"raft_term":[0-9]+\}/);
    expect(json).toContain('"count":1');
  });

  test("member list: three started members named node1..3 with their raft and HTTP peer URLs", async () => {
    const lines = (await ok([1, 2, 3], "member", "list")).split("\n").sort((a, b) => (a.split(", ")[2]! < b.split(", ")[2]! ? -1 : 1));
    expect(lines.length).toBe(3);
    for (const [i, line] of lines.entries()) {
      const [id, state, name, peers] = line.split(", ");
      expect(id).toMatch(/^[0-9a-f]{1,16}$/);
      expect([state, name]).toEqual(["started", `node${i + 1}`]);
      expect(peers).toBe(`http://${cluster.node(i + 1).raftAddr},http://${cluster.node(i + 1).httpAddr}`);
    }
  });

  test("endpoint status: one leader, every member names the same raft term", async () => {
    const lines = (await ok([1, 2, 3], "endpoint", "status")).split("\n");
    expect(lines.length).toBe(3);
    const columns = lines.map((line) => line.split(", "));
    // ENDPOINT, ID, VERSION, DB SIZE, IS LEADER, IS LEARNER, RAFT TERM, RAFT INDEX, RAFT APPLIED INDEX, ERRORS
    expect(columns.filter((c) => c[4] === "true").length).toBe(1);
    expect(new Set(columns.map((c) => c[6])).size).toBe(1);
    expect(columns.map((c) => c[2])).toEqual(["3.5.0", "3.5.0", "3.5.0"]);
    const { leader } = await roles();
    expect(columns.find((c) => c[4] === "true")![0]).toBe(cluster.grpcAddr(leader));
  });

  test("endpoint health: every member commits a proposal", async () => {
    const result = await run([1, 2, 3], "endpoint", "health");
    expect(result.code).toBe(0);
    const healthy = `${result.out}\n${result.err}`.split("\n").filter((line) => line.includes("is healthy: successfully committed proposal"));
    expect(healthy.length).toBe(3);
  });

  test("what needs the MVCC store fails clearly (exit 1, the reason printed), it does not pretend", async () => {
    const prefix = await run([1], "get", "--prefix", "f");
    expect(prefix.code).not.toBe(0);
    expect(prefix.err).toContain("code = Unimplemented desc = a range over a key range or prefix needs the MVCC store");
  });
});
