import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { status } from "@grpc/grpc-js";
import { fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { connectEtcd, type EtcdTestClient, grpcError, type Reply } from "../node/grpc/grpc_client.ts";
import { EtcdCluster } from "./etcd_support.ts";

// Issue 14 (foundation): a 3-node cluster of the binary, each node with -grpc-addr, driven by a grpc-js client
// the way etcd's clients drive etcd: any member serves every call, writes are forwarded inside the cluster,
// headers name the cluster and the member by stable uint64 ids.

const cluster = new EtcdCluster({ name: "etcd-grpc", extraArgs: [...fastFlags, "--max-value-bytes", "4096"] });
formedForThisFile(cluster, { timeoutMs: 60_000 });
const clients = new Map<number, EtcdTestClient>();
const b = (s: string) => Buffer.from(s);

beforeAll(() => {
  for (const id of [1, 2, 3]) clients.set(id, connectEtcd(cluster.grpcAddr(id)));
});

afterAll(() => {
  for (const client of clients.values()) client.close();
});

const etcd = (id: number) => clients.get(id)!;

async function followers(): Promise<{ leader: number; followers: number[] }> {
  const view = await cluster.waitForLeader({ deadlineMs: 15_000 });
  return { leader: view.leaderId, followers: [1, 2, 3].filter((id) => id !== view.leaderId) };
}

describe("etcd KV on qklzl", () => {
  test("a put through a follower is read back through the other follower, linearizable and serializable", async () => {
    const { leader, followers: [f1, f2] } = await followers();
    const put = await etcd(f1!).call("KV", "Put", { key: b("greeting"), value: b("hello") });
    expect(put.header.revision).toBe("0"); // no revisions until the MVCC store: none invented
    const read = await etcd(f2!).call("KV", "Range", { key: b("greeting") });
    expect([read.count, read.kvs.map((kv: Reply) => kv.value.toString())]).toEqual(["1", ["hello"]]);
    const stale = await etcd(f2!).call("KV", "Range", { key: b("greeting"), serializable: true });
    expect(stale.kvs[0].value.toString()).toBe("hello");
    // The HTTP API sees the same key.
    const http = await cluster.get(leader, "greeting");
    expect(http.json).toMatchObject({ key: "greeting", value: "hello" });
    const countOnly = await etcd(leader).call("KV", "Range", { key: b("greeting"), count_only: true });
    expect([countOnly.count, countOnly.kvs]).toEqual(["1", []]);
  });

  test("delete through a follower reports what it deleted; the second delete deletes nothing", async () => {
    const { followers: [f1] } = await followers();
    await etcd(f1!).call("KV", "Put", { key: b("doomed"), value: b("x") });
    expect((await etcd(f1!).call("KV", "DeleteRange", { key: b("doomed") })).deleted).toBe("1");
    expect((await etcd(f1!).call("KV", "DeleteRange", { key: b("doomed") })).deleted).toBe("0");
    expect((await etcd(f1!).call("KV", "Range", { key: b("doomed") })).count).toBe("0");
  });

  test("refusals carry etcd's codes and messages, and change nothing", async () => {
    const { followers: [f1] } = await followers();
    const prefix = await grpcError(etcd(f1!).call("KV", "Range", { key: b("a"), range_end: b("b") }));
    expect(prefix.code).toBe(status.UNIMPLEMENTED);
    expect(prefix.details).toContain("needs the MVCC store");
    const txn = await grpcError(etcd(f1!).call("KV", "Txn", { compare: [], success: [], failure: [] }));
    expect(txn.code).toBe(status.UNIMPLEMENTED);
    const empty = await grpcError(etcd(f1!).call("KV", "Put", { key: b(""), value: b("x") }));
    expect([empty.code, empty.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: key is not provided"]);
    // The follower forwards; the leader's limit (--max-value-bytes 4096) refuses it.
    const big = await grpcError(etcd(f1!).call("KV", "Put", { key: b("big"), value: Buffer.alloc(5000, 120) }));
    expect([big.code, big.details, big.qklzl]).toEqual([status.INVALID_ARGUMENT, "etcdserver: request is too large", "too_large"]);
    expect((await etcd(f1!).call("KV", "Range", { key: b("big") })).count).toBe("0");
    const watch = etcd(f1!).stream("Watch", "Watch");
    const ended = new Promise<{ code: number }>((resolve) => watch.on("error", resolve));
    watch.write({ create_request: { key: b("w") } });
    expect((await ended).code).toBe(status.UNIMPLEMENTED);
  });
});

describe("etcd cluster and maintenance on qklzl", () => {
  test("every member names the cluster and itself with the same ids MemberList gives", async () => {
    const lists = await Promise.all([1, 2, 3].map((id) => etcd(id).call("Cluster", "MemberList", {})));
    const ids = lists.map((list) => list.members.map((m: Reply) => `${m.name}=${m.ID}`).sort().join(","));
    expect(new Set(ids).size).toBe(1);
    expect(new Set(lists.map((l) => l.header.cluster_id)).size).toBe(1);
    for (const [i, list] of lists.entries()) {
      const self = list.members.find((m: Reply) => m.name === `node${i + 1}`);
      expect(list.header.member_id).toBe(self.ID);
      expect(self.clientURLs).toEqual([cluster.grpcAddr(i + 1)]);
      // Ids above 2^53 arrive exactly (a JS number would have rounded the last digits).
      expect(/^[0-9]+$/.test(self.ID)).toBe(true);
    }
  });

  test("status: every member names the same leader, with the raft term and index of GET /status", async () => {
    const { leader } = await followers();
    const statuses = await Promise.all([1, 2, 3].map((id) => etcd(id).call("Maintenance", "Status", {})));
    const leaderId = statuses.find((_, i) => i + 1 === leader)!.header.member_id;
    for (const s of statuses) expect(s.leader).toBe(leaderId);
    const http = await cluster.status(leader);
    expect(statuses[leader - 1]!.raftTerm).toBe(String(http!.term));
    expect(Number(statuses[leader - 1]!.raftIndex)).toBeGreaterThan(0);
    expect((await etcd(leader).call("Maintenance", "Alarm", { action: "GET" })).alarms).toEqual([]);
  });

  test("move-leader sent to a follower moves the leadership (forwarded to the leader)", async () => {
    const { leader, followers: [f1, f2] } = await followers();
    const list = await etcd(f1!).call("Cluster", "MemberList", {});
    const target = list.members.find((m: Reply) => m.name === `node${f2}`).ID;
    await etcd(f1!).call("Maintenance", "MoveLeader", { targetID: target }, { deadlineMs: 15_000 });
    await waitFor(async () => ((await cluster.status(f2!))?.is_leader ? true : null), { deadlineMs: 10_000, what: `node ${f2} to lead after MoveLeader` });
    expect(leader).not.toBe(f2);
  });

  test("auth is off: AuthStatus says so, Authenticate is refused as etcd refuses it", async () => {
    expect((await etcd(1).call("Auth", "AuthStatus", {})).enabled).toBe(false);
    const login = await grpcError(etcd(1).call("Auth", "Authenticate", { name: "root", password: "x" }));
    expect([login.code, login.details]).toEqual([status.FAILED_PRECONDITION, "etcdserver: authentication is not enabled"]);
  });
});
