import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { status } from "@grpc/grpc-js";
import { fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { connectEtcd, type EtcdTestClient, grpcError, type Reply } from "../node/grpc/grpc_client.ts";
import { EtcdCluster } from "./etcd_support.ts";

// Issue 14: a 3-node cluster of the binary, each node with -grpc-addr, driven by a grpc-js client
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
    expect(Number(put.header.revision)).toBeGreaterThan(1); // the store's revision of the write
    const read = await etcd(f2!).call("KV", "Range", { key: b("greeting") });
    expect([read.count, read.kvs.map((kv: Reply) => kv.value.toString())]).toEqual(["1", ["hello"]]);
    expect([read.header.revision, read.kvs[0].mod_revision]).toEqual([put.header.revision, put.header.revision]);
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
    const put = await etcd(f1!).call("KV", "Put", { key: b("r"), value: b("1") });
    const future = await grpcError(etcd(f1!).call("KV", "Range", { key: b("r"), revision: Number(put.header.revision) + 1000 }));
    expect([future.code, future.details]).toEqual([status.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"]);
    const dup = await grpcError(
      etcd(f1!).call("KV", "Txn", { compare: [], success: [{ request_put: { key: b("d"), value: b("1") } }, { request_put: { key: b("d"), value: b("2") } }], failure: [] }),
    );
    expect([dup.code, dup.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"]);
    expect((await etcd(f1!).call("KV", "Range", { key: b("d") })).count).toBe("0");
    const empty = await grpcError(etcd(f1!).call("KV", "Put", { key: b(""), value: b("x") }));
    expect([empty.code, empty.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: key is not provided"]);
    // The follower forwards; the leader's limit (--max-value-bytes 4096) refuses it.
    const big = await grpcError(etcd(f1!).call("KV", "Put", { key: b("big"), value: Buffer.alloc(5000, 120) }));
    expect([big.code, big.details, big.qklzl]).toEqual([status.INVALID_ARGUMENT, "etcdserver: request is too large", "too_large"]);
    expect((await etcd(f1!).call("KV", "Range", { key: b("big") })).count).toBe("0");
    // Leases are the node's (the same over HTTP and gRPC); an unknown one is etcd's error.
    const unknownLease = await grpcError(etcd(f1!).call("KV", "Put", { key: b("leased"), value: b("x"), lease: 424242 }));
    expect([unknownLease.code, unknownLease.details]).toEqual([status.NOT_FOUND, "etcdserver: requested lease not found"]);
    const granted = await (await fetch(`http://${cluster.node(f1!).httpAddr}/lease/grant`, { method: "POST", body: JSON.stringify({ ttl: 60 }) })).json() as { id: number };
    await etcd(f1!).call("KV", "Put", { key: b("leased"), value: b("x"), lease: granted.id });
    expect((await etcd(f1!).call("KV", "Range", { key: b("leased") })).kvs[0].lease).toBe(String(granted.id));
    const taken = await grpcError(etcd(f1!).call("Lease", "LeaseGrant", { ID: granted.id, TTL: 5 }));
    expect([taken.code, taken.details]).toEqual([status.FAILED_PRECONDITION, "etcdserver: lease already exists"]);
    const tooLong = await grpcError(etcd(f1!).call("Lease", "LeaseGrant", { TTL: 10 ** 10 }));
    expect([tooLong.code, tooLong.details]).toEqual([status.OUT_OF_RANGE, "etcdserver: too large lease TTL"]);
    const gone = await grpcError(etcd(f1!).call("Lease", "LeaseRevoke", { ID: 424242 }));
    expect([gone.code, gone.details]).toEqual([status.NOT_FOUND, "etcdserver: requested lease not found"]);
  });

  test("leases through a follower: grant with an id, keep-alive stream, time-to-live with keys, revoke in the header's revision", async () => {
    const { followers: [f1, f2] } = await followers();
    const grant = await etcd(f1!).call("Lease", "LeaseGrant", { ID: 5150, TTL: 30 });
    expect([grant.ID, grant.TTL, grant.error]).toEqual(["5150", "30", ""]);
    expect(grant.header.raft_term).toBe(String((await cluster.status(f1!))!.term));
    await etcd(f2!).call("KV", "Put", { key: b("l/1"), value: b("a"), lease: 5150 });
    await etcd(f2!).call("KV", "Put", { key: b("l/2"), value: b("b"), lease: 5150 });
    const keepAlive = etcd(f2!).stream("Lease", "LeaseKeepAlive");
    const renewals: Reply[] = [];
    keepAlive.on("data", (m: Reply) => renewals.push(m));
    keepAlive.write({ ID: 5150 });
    keepAlive.write({ ID: 4242 }); // unknown: TTL 0, the stream goes on (etcd's answer)
    keepAlive.write({ ID: 5150 });
    await waitFor(async () => (renewals.length >= 3 ? true : null), { deadlineMs: 10_000, what: "three keep-alive answers" });
    keepAlive.end();
    expect(renewals.map((r) => [r.ID, r.TTL])).toEqual([["5150", "30"], ["4242", "0"], ["5150", "30"]]);
    const ttl = await etcd(f1!).call("Lease", "LeaseTimeToLive", { ID: 5150, keys: true });
    expect([ttl.ID, ttl.grantedTTL, ttl.keys.map((k: Buffer) => k.toString()).sort()]).toEqual(["5150", "30", ["l/1", "l/2"]]);
    expect(Number(ttl.TTL)).toBeGreaterThan(25);
    expect((await etcd(f2!).call("Lease", "LeaseLeases", {})).leases.map((l: Reply) => l.ID)).toContain("5150");
    const revoked = await etcd(f2!).call("Lease", "LeaseRevoke", { ID: 5150 });
    const after = await etcd(f1!).call("KV", "Range", { key: b("l/"), range_end: b("l0") });
    expect(after.count).toBe("0");
    expect(revoked.header.revision).toBe(after.header.revision); // the revision of the revoke's deletes
    expect((await etcd(f1!).call("Lease", "LeaseTimeToLive", { ID: 5150 })).TTL).toBe("-1");
  });

  test("a watch through a follower with fragment splits a big revision's events; the last answer is unfragmented", async () => {
    const { followers: [f1, f2] } = await followers();
    const keys = Array.from({ length: 300 }, (_, i) => `frag/${String(i).padStart(3, "0")}`);
    for (const key of keys) await etcd(f1!).call("KV", "Put", { key: b(key), value: Buffer.alloc(4000, 97) });
    const watch = etcd(f2!).stream("Watch", "Watch");
    const answers: Reply[] = [];
    watch.on("data", (m: Reply) => answers.push(m));
    watch.write({ create_request: { key: b("frag/"), range_end: b("frag0"), fragment: true, prev_kv: true } });
    await waitFor(async () => (answers.some((a) => a.created) ? true : null), { deadlineMs: 10_000, what: "the watch to be created" });
    // One delete of 300 keys: one revision whose events (with their 4000-byte prev_kvs, ~1.2 MB) exceed a fragment.
    const deleted = await etcd(f1!).call("KV", "DeleteRange", { key: b("frag/"), range_end: b("frag0") });
    expect(deleted.deleted).toBe("300");
    const received = () => answers.reduce((n, a) => n + (a.events?.length ?? 0), 0);
    await waitFor(async () => (received() >= 300 ? true : null), { deadlineMs: 10_000, what: "every event of the delete" });
    watch.end();
    const parts = answers.filter((a) => a.events?.length > 0);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.map((p) => p.fragment)).toEqual([...parts.slice(1).map(() => true), false]);
    expect(new Set(parts.map((p) => p.header.revision))).toEqual(new Set([deleted.header.revision]));
    expect(parts.flatMap((p) => p.events.map((e: Reply) => e.kv.key.toString()))).toEqual(keys);
    expect(parts.flatMap((p) => p.events.map((e: Reply) => e.prev_kv.value.length))).toEqual(keys.map(() => 4000));
  });
});

describe("etcd watch streams on qklzl", () => {
  test("two watches on one stream, a progress request, and a compacted start cancelled with compact_revision", async () => {
    const { followers: [f1, f2] } = await followers();
    const first = await etcd(f1!).call("KV", "Put", { key: b("s/a"), value: b("0") });
    await etcd(f1!).call("KV", "Put", { key: b("s/a"), value: b("1") });
    const watch = etcd(f2!).stream("Watch", "Watch");
    const answers: Reply[] = [];
    watch.on("data", (m: Reply) => answers.push(m));
    watch.write({ create_request: { key: b("s/a"), watch_id: 7 } });
    watch.write({ create_request: { key: b("s/"), range_end: b("s0"), watch_id: 8, filters: ["NODELETE"] } });
    await waitFor(async () => (answers.filter((a) => a.created).length >= 2 ? true : null), { deadlineMs: 10_000, what: "both watches created" });
    const put = await etcd(f1!).call("KV", "Put", { key: b("s/a"), value: b("2") });
    await etcd(f1!).call("KV", "DeleteRange", { key: b("s/a") });
    await waitFor(async () => (answers.filter((a) => a.watch_id === "7" && a.events?.length > 0).length >= 2 ? true : null), {
      deadlineMs: 10_000,
      what: "watch 7's put and delete",
    });
    watch.write({ progress_request: {} });
    await waitFor(async () => (answers.filter((a) => a.watch_id === "8" && !a.created && a.events?.length === 0).length >= 1 ? true : null), {
      deadlineMs: 10_000,
      what: "a progress answer for watch 8",
    });
    const events = (id: string) => answers.filter((a) => a.watch_id === id).flatMap((a) => (a.events ?? []).map((e: Reply) => `${e.type}:${e.kv.mod_revision}`));
    expect(events("7")).toEqual([`PUT:${put.header.revision}`, `DELETE:${Number(put.header.revision) + 1}`]);
    expect(events("8")).toEqual([`PUT:${put.header.revision}`]); // NODELETE
    const progress = answers.find((a) => a.watch_id === "8" && !a.created && a.events?.length === 0)!;
    expect(Number(progress.header.revision)).toBeGreaterThanOrEqual(Number(put.header.revision) + 1);

    const current = await etcd(f1!).call("KV", "Range", { key: b("s/a") });
    await etcd(f1!).call("KV", "Compact", { revision: current.header.revision });
    watch.write({ create_request: { key: b("s/a"), watch_id: 9, start_revision: first.header.revision } });
    await waitFor(async () => (answers.some((a) => a.watch_id === "9" && a.canceled) ? true : null), { deadlineMs: 10_000, what: "watch 9 cancelled" });
    const cancelled = answers.find((a) => a.watch_id === "9" && a.canceled)!;
    expect([cancelled.compact_revision, cancelled.cancel_reason]).toEqual([current.header.revision, "etcdserver: mvcc: required revision has been compacted"]);
    watch.end();
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
