import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import { connect as netConnect } from "node:net";
import { Client, credentials, status } from "@grpc/grpc-js";
import { QklzlError } from "../../../src/shared/errors.ts";
import { NotSupportedError } from "../../../src/node/grpc/backend.ts";
import { etcdClusterId, etcdMemberId } from "../../../src/node/grpc/ids.ts";
import { type GrpcServer, startGrpcServer, streams_per_connection_max } from "../../../src/node/grpc/server.ts";
import { renewals_queued_max } from "../../../src/node/grpc/lease_service.ts";
import { FakeBackend } from "./fake_backend.ts";
import { connectEtcd, type EtcdTestClient, grpcError, type Reply } from "./grpc_client.ts";

// The endpoint's protocol code against an in-memory backend: every service, the stream protocols, the error
// mapping end to end, and the robustness cases (malformed input, unknown methods, oversized messages, clients
// that vanish mid-stream).

const max_message_bytes = 64 * 1024;
let backend: FakeBackend;
let server: GrpcServer;
let etcd: EtcdTestClient;

beforeAll(async () => {
  backend = new FakeBackend();
  server = await startGrpcServer(backend, { listen: "127.0.0.1:0", maxMessageBytes: max_message_bytes, stopTimeoutMs: 2_000 });
  etcd = connectEtcd(server.addr);
});

afterAll(async () => {
  etcd.close();
  await server.stop();
});

const b = (s: string) => Buffer.from(s);
const str = (v: Buffer | undefined) => v?.toString("utf8");

/**
 * reader: collects everything a stream emits from now on (a message may arrive before the test awaits it, e.g.
 * a watch event racing the put's reply); next() takes the oldest, or fails after timeoutMs.
 */
function reader(stream: any): { next(timeoutMs?: number): Promise<Reply> } {
  const queue: Reply[] = [];
  const waiting: Array<(m: Reply) => void> = [];
  stream.on("data", (m: Reply) => (waiting.length > 0 ? waiting.shift()!(m) : queue.push(m)));
  stream.on("error", () => undefined);
  return {
    next(timeoutMs = 5_000) {
      if (queue.length > 0) return Promise.resolve(queue.shift()!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no message on the stream")), timeoutMs);
        waiting.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
    },
  };
}

describe("KV over the backend", () => {
  test("put, range, delete: headers carry the derived ids (exact strings), the revision and the term", async () => {
    const put = await etcd.call("KV", "Put", { key: b("a"), value: b("1") });
    expect(put.header).toEqual({
      cluster_id: etcdClusterId("fake-cluster").toString(),
      member_id: etcdMemberId("fake-cluster", 2).toString(),
      revision: String(backend.revision),
      raft_term: "4",
    });
    await etcd.call("KV", "Put", { key: b("b"), value: b("2") });
    const range = await etcd.call("KV", "Range", { key: b("a"), range_end: b("c") });
    expect(range.kvs.map((kv: Reply) => [str(kv.key), str(kv.value), kv.version])).toEqual([["a", "1", "1"], ["b", "2", "1"]]);
    expect([range.count, range.more]).toEqual(["2", false]);
    const limited = await etcd.call("KV", "Range", { key: b("a"), range_end: b("c"), limit: 1, sort_order: "DESCEND", keys_only: true });
    expect(limited.kvs.map((kv: Reply) => [str(kv.key), str(kv.value)])).toEqual([["b", ""]]);
    expect(limited.more).toBe(true);
    const deleted = await etcd.call("KV", "DeleteRange", { key: b("a"), prev_kv: true });
    expect(deleted.deleted).toBe("1");
    expect(str(deleted.prev_kvs[0].value)).toBe("1");
  });

  test("a plain put goes to putBytes with the value's bytes; a put with a lease, prev_kv or ignore flag to put()", async () => {
    backend.plainPuts.length = 0;
    await etcd.call("KV", "Put", { key: b("p1"), value: b("h\u00e9") });
    await etcd.call("KV", "Put", { key: b("p2") });
    const prev = await etcd.call("KV", "Put", { key: b("p1"), value: b("2"), prev_kv: true });
    expect(str(prev.prev_kv.value)).toBe("h\u00e9");
    await etcd.call("KV", "Put", { key: b("p1"), value: b("3"), ignore_lease: true });
    await etcd.call("KV", "Put", { key: b("p1"), ignore_value: true });
    expect(backend.plainPuts).toEqual(["p1", "p2"]);
    const range = await etcd.call("KV", "Range", { key: b("p2") });
    expect(range.kvs.map((kv: Reply) => [str(kv.key), str(kv.value)])).toEqual([["p2", ""]]);
    // Refusals on the fast path are the same as on put()'s: no key, a key or value that is not UTF-8.
    const none = await grpcError(etcd.call("KV", "Put", { value: b("x") }));
    expect([none.code, none.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: key is not provided"]);
    const badKey = await grpcError(etcd.call("KV", "Put", { key: Buffer.from([0xff]), value: b("x") }));
    expect(badKey.code).toBe(status.INVALID_ARGUMENT);
    const badValue = await grpcError(etcd.call("KV", "Put", { key: b("p9"), value: Buffer.from([0xc3]) }));
    expect(badValue.code).toBe(status.INVALID_ARGUMENT);
    expect(backend.plainPuts).toEqual(["p1", "p2", "p9"]);
    expect(backend.kvs.has("p9")).toBe(false);
  });

  test("txn: compares decide the branch; nested responses are encoded per op", async () => {
    await etcd.call("KV", "Put", { key: b("t"), value: b("x") });
    const cas = (expected: string) =>
      etcd.call("KV", "Txn", {
        compare: [{ key: b("t"), target: "VALUE", result: "EQUAL", value: b(expected) }],
        success: [{ request_put: { key: b("t"), value: b("y") } }, { request_range: { key: b("t") } }],
        failure: [{ request_range: { key: b("t") } }],
      });
    const failed = await cas("nope");
    expect(failed.succeeded).toBe(false);
    expect(str(failed.responses[0].response_range.kvs[0].value)).toBe("x");
    const ok = await cas("x");
    expect(ok.succeeded).toBe(true);
    expect(ok.responses.map((r: Reply) => r.response)).toEqual(["response_put", "response_range"]);
    expect(str(ok.responses[1].response_range.kvs[0].value)).toBe("y");
    const version = await etcd.call("KV", "Txn", { compare: [{ key: b("t"), target: "VERSION", result: "GREATER", version: 1 }], success: [], failure: [] });
    expect(version.succeeded).toBe(true);
  });

  test("store refusals arrive with etcd's code and text", async () => {
    const compacted = await grpcError(etcd.call("KV", "Compact", { revision: 0 }));
    expect([compacted.code, compacted.details]).toEqual([status.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"]);
    const future = await grpcError(etcd.call("KV", "Range", { key: b("a"), revision: 1_000_000 }));
    expect([future.code, future.details]).toEqual([status.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"]);
    const many = Array.from({ length: 129 }, (_, i) => ({ request_put: { key: b(`k${i}`), value: b("v") } }));
    const tooMany = await grpcError(etcd.call("KV", "Txn", { compare: [], success: many, failure: [] }));
    expect([tooMany.code, tooMany.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: too many operations in txn request"]);
    backend.failNext = { method: "put", error: new QklzlError("no_leader", "election in progress") };
    const noLeader = await grpcError(etcd.call("KV", "Put", { key: b("a"), value: b("1") }));
    expect([noLeader.code, noLeader.details, noLeader.qklzl]).toEqual([status.UNAVAILABLE, "etcdserver: no leader", "no_leader"]);
    backend.failNext = { method: "range", error: new NotSupportedError("a range over a key range needs the MVCC store") };
    const missing = await grpcError(etcd.call("KV", "Range", { key: b("a") }));
    expect([missing.code, missing.details]).toEqual([status.UNIMPLEMENTED, "a range over a key range needs the MVCC store"]);
    const empty = await grpcError(etcd.call("KV", "Put", { key: b(""), value: b("1") }));
    expect([empty.code, empty.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: key is not provided"]);
    const binary = await grpcError(etcd.call("KV", "Put", { key: Buffer.from([0xff, 0xfe]), value: b("1") }));
    expect(binary.code).toBe(status.INVALID_ARGUMENT);
    expect(binary.details).toContain("UTF-8");
  });
});

describe("Watch stream", () => {
  test("several watches per stream: created, events in order with prev_kv, cancel, progress", async () => {
    const stream = etcd.stream("Watch", "Watch");
    const messages = reader(stream);
    stream.write({ create_request: { key: b("w/"), range_end: b("w0"), prev_kv: true } });
    const created = await messages.next();
    expect([created.created, created.watch_id]).toEqual([true, "0"]);
    stream.write({ create_request: { key: b("w/b"), filters: ["NOPUT"] } });
    const second = await messages.next();
    expect([second.created, second.watch_id]).toEqual([true, "1"]);
    await etcd.call("KV", "Put", { key: b("w/a"), value: b("1") });
    const first = await messages.next();
    expect(first.watch_id).toBe("0");
    expect(first.events.map((e: Reply) => [e.type, str(e.kv.key), str(e.kv.value)])).toEqual([["PUT", "w/a", "1"]]);
    expect(first.header.revision).toBe(String(backend.revision));
    await etcd.call("KV", "Put", { key: b("w/a"), value: b("2") });
    const update = await messages.next();
    expect(str(update.events[0].prev_kv.value)).toBe("1");
    await etcd.call("KV", "Put", { key: b("w/b"), value: b("3") });
    expect((await messages.next()).watch_id).toBe("0"); // watch 1 filters puts out
    await etcd.call("KV", "DeleteRange", { key: b("w/b") });
    const deletes = [await messages.next(), await messages.next()].map((m) => [m.watch_id, m.events[0].type]).sort();
    expect(deletes).toEqual([["0", "DELETE"], ["1", "DELETE"]]);
    stream.write({ progress_request: {} });
    const progress = [await messages.next(), await messages.next()].map((m) => [m.watch_id, m.events.length, m.header.revision]).sort();
    expect(progress).toEqual([["0", 0, String(backend.revision)], ["1", 0, String(backend.revision)]]);
    stream.write({ cancel_request: { watch_id: 1 } });
    const canceled = await messages.next();
    expect([canceled.watch_id, canceled.canceled]).toEqual(["1", true]);
    stream.end();
  });

  test("a start revision below the compaction is created+canceled with etcd's reason; the stream goes on", async () => {
    await etcd.call("KV", "Put", { key: b("c"), value: b("1") });
    await etcd.call("KV", "Compact", { revision: backend.revision });
    const stream = etcd.stream("Watch", "Watch");
    const messages = reader(stream);
    stream.write({ create_request: { key: b("c"), start_revision: 1 } });
    const refused = await messages.next();
    expect([refused.created, refused.canceled, refused.cancel_reason]).toEqual([true, true, "etcdserver: mvcc: required revision has been compacted"]);
    stream.write({ create_request: { key: b("c"), start_revision: backend.revision } });
    const created = await messages.next();
    expect(created.created).toBe(true);
    expect(created.canceled).toBe(false);
    const replay = await messages.next();
    expect(str(replay.events[0].kv.key)).toBe("c");
    stream.end();
  });

  test("a client that disappears mid-stream cancels its watches in the backend", async () => {
    const client = connectEtcd(server.addr);
    const stream = client.stream("Watch", "Watch");
    const messages = reader(stream);
    stream.write({ create_request: { key: b("gone") } });
    await messages.next();
    stream.write({ create_request: { key: b("gone2") } });
    await messages.next();
    client.close();
    stream.cancel();
    const gone = () => backend.cancelledKeys.filter((key) => key.startsWith("gone")).sort();
    for (let i = 0; i < 100 && gone().length < 2; i++) await Bun.sleep(20);
    expect(gone()).toEqual(["gone", "gone2"]);
    expect([...backend.watchers].filter((w) => w.request.key.startsWith("gone"))).toEqual([]);
  });
});

describe("Lease", () => {
  test("grant, keep-alive stream (unknown lease: TTL 0 as etcd), time-to-live (unknown: TTL -1), revoke deletes keys", async () => {
    const grant = await etcd.call("Lease", "LeaseGrant", { TTL: 30 });
    const id = grant.ID;
    await etcd.call("KV", "Put", { key: b("leased"), value: b("v"), lease: id });
    const keepAlive = etcd.stream("Lease", "LeaseKeepAlive");
    const renewals = reader(keepAlive);
    keepAlive.write({ ID: id });
    expect(await renewals.next()).toMatchObject({ ID: id, TTL: "30" });
    keepAlive.write({ ID: 424242 });
    expect(await renewals.next()).toMatchObject({ ID: "424242", TTL: "0" });
    keepAlive.end();
    const ttl = await etcd.call("Lease", "LeaseTimeToLive", { ID: id, keys: true });
    expect([ttl.grantedTTL, ttl.keys.map(str)]).toEqual(["30", ["leased"]]);
    expect((await etcd.call("Lease", "LeaseTimeToLive", { ID: 424242 })).TTL).toBe("-1");
    expect((await etcd.call("Lease", "LeaseLeases", {})).leases.map((l: Reply) => l.ID)).toEqual([id]);
    await etcd.call("Lease", "LeaseRevoke", { ID: id });
    expect((await etcd.call("KV", "Range", { key: b("leased") })).count).toBe("0");
    const gone = await grpcError(etcd.call("Lease", "LeaseRevoke", { ID: id }));
    expect([gone.code, gone.details]).toEqual([status.NOT_FOUND, "etcdserver: requested lease not found"]);
  });
});

test("a keep-alive stream flooding a slow store is cut off with RESOURCE_EXHAUSTED (the queue is bounded)", async () => {
  const { id } = await backend.leaseGrant({ id: 0, ttl: 10 });
  let open!: () => void;
  backend.keepAliveGate = new Promise<void>((resolve) => (open = resolve));
  const stream = etcd.stream("Lease", "LeaseKeepAlive");
  const ended = new Promise<{ code: number; details: string }>((resolve) => stream.on("error", resolve));
  stream.on("data", () => undefined);
  for (let i = 0; i < renewals_queued_max + 10; i++) stream.write({ ID: id });
  const error = await ended;
  open();
  backend.keepAliveGate = null;
  expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
  expect(error.details).toContain("etcdserver: too many requests");
});

describe("Cluster, Maintenance, Auth", () => {
  test("member list maps node ids to etcd ids; remove and move-leader find the node again", async () => {
    const list = await etcd.call("Cluster", "MemberList", {});
    expect(list.members.map((m: Reply) => [m.ID, m.name, m.isLearner])).toEqual(
      [1, 2, 3].map((id) => [etcdMemberId("fake-cluster", id).toString(), `node${id}`, id === 3]),
    );
    expect(list.members[1].clientURLs).toEqual(["127.0.0.1:2379"]);
    await etcd.call("Cluster", "MemberRemove", { ID: etcdMemberId("fake-cluster", 3).toString() });
    expect(backend.removed).toEqual([3]);
    const unknown = await grpcError(etcd.call("Cluster", "MemberRemove", { ID: "12345" }));
    expect([unknown.code, unknown.details]).toEqual([status.NOT_FOUND, "etcdserver: member not found"]);
    await etcd.call("Maintenance", "MoveLeader", { targetID: etcdMemberId("fake-cluster", 2).toString() });
    expect(backend.transferredTo).toEqual([2]);
    const learner = await grpcError(etcd.call("Maintenance", "MoveLeader", { targetID: etcdMemberId("fake-cluster", 3).toString() }));
    expect([learner.code, learner.details]).toEqual([status.FAILED_PRECONDITION, "etcdserver: bad leader transferee"]);
    const promote = await grpcError(etcd.call("Cluster", "MemberPromote", { ID: etcdMemberId("fake-cluster", 1).toString() }));
    expect(promote.details).toBe("etcdserver: can only promote a learner member");
    const badUrls = await grpcError(etcd.call("Cluster", "MemberAdd", { peerURLs: ["http://127.0.0.1:1"] }));
    expect([badUrls.code, badUrls.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: given member URLs are invalid"]);
    const added = await etcd.call("Cluster", "MemberAdd", { peerURLs: ["http://127.0.0.1:12004", "http://127.0.0.1:8004"] });
    expect([added.member.ID, added.member.isLearner]).toEqual([etcdMemberId("fake-cluster", 4).toString(), true]);
  });

  test("status names the leader by its etcd id; alarms empty; defragment is a no-op; hash is the low 32 bits", async () => {
    const s = await etcd.call("Maintenance", "Status", {});
    expect(s).toMatchObject({ version: "3.5.0", leader: etcdMemberId("fake-cluster", 1).toString(), raftIndex: "100", raftTerm: "4", raftAppliedIndex: "99", dbSize: "4096", isLearner: false });
    expect((await etcd.call("Maintenance", "Alarm", { action: "GET" })).alarms).toEqual([]);
    expect((await etcd.call("Maintenance", "Defragment", {})).header.member_id).toBe(etcdMemberId("fake-cluster", 2).toString());
    expect((await etcd.call("Maintenance", "Hash", {})).hash).toBe(0xdeadbeef);
    const snapshot = etcd.stream("Maintenance", "Snapshot");
    const ended = await new Promise<{ code: number }>((resolve) => snapshot.on("error", resolve));
    // Snapshot is a server stream: the test client opens it with a request.
    expect(ended.code).toBe(status.UNIMPLEMENTED);
  });

  test("auth: on a backend without auth, status says disabled, other calls FAILED_PRECONDITION as etcd with auth off", async () => {
    expect((await etcd.call("Auth", "AuthStatus", {})).enabled).toBe(false);
    const login = await grpcError(etcd.call("Auth", "Authenticate", { name: "root", password: "x" }));
    expect([login.code, login.details]).toEqual([status.FAILED_PRECONDITION, "etcdserver: authentication is not enabled"]);
    expect((await grpcError(etcd.call("Auth", "AuthEnable", {}))).code).toBe(status.FAILED_PRECONDITION);
  });
});

describe("robustness", () => {
  const identity = (x: Buffer) => x;

  test("unknown methods and services answer UNIMPLEMENTED; the server keeps serving", async () => {
    const client = new Client(server.addr, credentials.createInsecure());
    const call = (path: string) =>
      new Promise<number>((resolve) => client.makeUnaryRequest(path, identity, identity, Buffer.alloc(0), (error) => resolve(error?.code ?? 0)));
    expect(await call("/etcdserverpb.KV/NoSuchMethod")).toBe(status.UNIMPLEMENTED);
    expect(await call("/nope.Service/Call")).toBe(status.UNIMPLEMENTED);
    expect(await call("/etcdserverpb.Maintenance/Downgrade")).toBe(status.UNIMPLEMENTED);
    client.close();
    expect((await etcd.call("Maintenance", "Status", {})).version).toBe("3.5.0");
  });

  test("a malformed message is refused without a crash", async () => {
    const client = new Client(server.addr, credentials.createInsecure());
    // Field 1 (key, bytes) announcing 100 bytes and carrying 2: not a RangeRequest.
    const garbage = Buffer.from([0x0a, 100, 1, 2]);
    const code = await new Promise<number>((resolve) =>
      client.makeUnaryRequest("/etcdserverpb.KV/Range", identity, identity, garbage, (error) => resolve(error?.code ?? 0)),
    );
    expect([status.INTERNAL, status.INVALID_ARGUMENT]).toContain(code);
    client.close();
    expect((await etcd.call("Maintenance", "Status", {})).version).toBe("3.5.0");
  });

  test("an oversized message is RESOURCE_EXHAUSTED and changes nothing", async () => {
    const before = backend.revision;
    const big = await grpcError(etcd.call("KV", "Put", { key: b("big"), value: Buffer.alloc(max_message_bytes + 1, 120) }));
    expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(backend.revision).toBe(before);
  });

  test("complete requests then a dropped TCP connection: no crash (Bun's destroyed-stream bug, BUN-NOTES §9)", async () => {
    const [host, port] = [server.addr.slice(0, server.addr.lastIndexOf(":")), Number(server.addr.slice(server.addr.lastIndexOf(":") + 1))];
    for (let round = 0; round < 3; round++) {
      // Our own TCP socket under the HTTP/2 session, so the test can drop it without a GOAWAY.
      const socket = netConnect(port, host);
      const session = http2.connect(`http://${server.addr}`, { createConnection: () => socket });
      session.on("error", () => undefined);
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 3]), Buffer.from([0x0a, 1, 0x61])]);
      for (let i = 0; i < 20; i++) {
        const req = session.request({ ":method": "POST", ":path": "/etcdserverpb.KV/Range", "content-type": "application/grpc", te: "trailers" });
        req.on("error", () => undefined);
        req.end(frame);
      }
      await Bun.sleep(5);
      socket.destroy();
    }
    // A raw socket that sends half a preface and vanishes.
    await new Promise<void>((resolve) => {
      const socket = netConnect(port, host, () => {
        socket.write("PRI * HTTP/2.0\r\n");
        socket.destroy();
        resolve();
      });
      socket.on("error", () => resolve());
    });
    await Bun.sleep(100);
    expect((await etcd.call("Maintenance", "Status", {})).version).toBe("3.5.0");
  });

  test("the server bounds concurrent streams per connection", async () => {
    const session = http2.connect(`http://${server.addr}`);
    const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
    session.close();
    expect(settings.maxConcurrentStreams).toBe(streams_per_connection_max);
  });
});
