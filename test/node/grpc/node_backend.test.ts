import { describe, expect, test } from "bun:test";
import { encodeRawPut, type KvRequest, KvStateMachine, type RangeRequest, validateKvRequest, validateRange } from "../../../src/kv/index.ts";
import { WatchHub, type WatchSpec } from "../../../src/kv/watch_hub.ts";
import type { Consistency, NodeApi, StatusJson } from "../../../src/node/api.ts";
import { createNodeBackend } from "../../../src/node/grpc/node_backend.ts";
import { QklzlError } from "../../../src/shared/errors.ts";

// node_backend.ts over a NodeApi double whose range/kvRequest/watches are a real KvStateMachine and WatchHub:
// answers and header revisions are the store's, refusals keep the store's codes, nothing is invented.

function fakeApi(role: "leader" | "follower" = "leader", leaderHttp = "") {
  const kv = new KvStateMachine();
  const rawPuts: string[] = [];
  const hub = new WatchHub(kv);
  let index = 0;
  const reads: Consistency[] = [];
  const status: StatusJson = {
    id: 2, state: role, is_leader: role === "leader", leader_id: role === "leader" ? 2 : 1, leader_http_addr: "", term: 5,
    commit_index: 40, applied_index: 39, last_log_index: 40, snapshot_index: 0, raft_addr: "r2", http_addr: "h2",
    members: [
      { id: 1, raft_addr: "r1", http_addr: "h1", role: "voter", match_index: 0 },
      { id: 2, raft_addr: "r2", http_addr: "h2", role: "voter", match_index: 0 },
      { id: 3, raft_addr: "r3", http_addr: "h3", role: "learner", match_index: 0 },
    ],
    cluster_id: "c-1", kv_hash: "0123456789abcdef", kv_hash_index: 39, kv_keys: 0, snapshots_installed: 0,
  };
  const api = {
    status: () => status,
    storeStats: () => ({ revision: kv.revision, compact_revision: kv.compactedRevision, bytes: kv.memory().liveBytes, hash: kv.stats().hash }),
    range: async (request: RangeRequest, consistency: Consistency) => {
      reads.push(consistency);
      return kv.range(validateRange(request));
    },
    // putBytes proposes the raw entry (tag 18) as the node does: the store decodes it from the entry's bytes.
    putBytes: async (key: string, value: Uint8Array) => {
      if (role !== "leader") throw new QklzlError("not_leader", "not the leader", { leader_id: 1, leader_http_addr: leaderHttp });
      rawPuts.push(key);
      const response = kv.applyEntry(++index, encodeRawPut(key, value));
      if (response.kind === "error") throw new QklzlError(response.error.error as never, response.error.message);
      return { index, response };
    },
    kvRequest: async (request: KvRequest) => {
      if (role !== "leader") throw new QklzlError("not_leader", "not the leader", { leader_id: 1, leader_http_addr: leaderHttp });
      const response = kv.applyRequest(++index, validateKvRequest(request));
      if (response.kind === "error") throw new QklzlError(response.error.error as never, response.error.message);
      return { index, response };
    },
    watches: {
      start: async (spec: WatchSpec) => hub.watch(spec),
      release: (watch: { cancel(): void }) => watch.cancel(),
      progress: () => false,
    },
  } as unknown as NodeApi;
  return { api, kv, reads, rawPuts, backend: createNodeBackend(api, { grpcAddr: "127.0.0.1:2379", requestTimeoutMs: 1000 }) };
}

describe("node backend over the MVCC store", () => {
  test("info maps /status and the store: ids, leader, term, indexes, learners, revision, size", async () => {
    const { backend } = fakeApi();
    await backend.put({ key: "k", value: "v" });
    const info = backend.info();
    expect(info).toMatchObject({ cluster_id: "c-1", node_id: 2, leader_node_id: 2, raft_term: 5, raft_index: 40, raft_applied_index: 39, revision: 2, is_learner: false });
    expect(info.db_size).toBeGreaterThan(0);
    expect(info.members.map((m) => [m.node_id, m.is_learner, m.grpc_addr])).toEqual([[1, false, ""], [2, false, "127.0.0.1:2379"], [3, true, ""]]);
  });

  test("put/range/delete answer the store's revisions, prev_kv, counts; serializable reads are stale", async () => {
    const { backend, reads } = fakeApi();
    expect(await backend.put({ key: "a1", value: "x" })).toEqual({ revision: 2 });
    expect(await backend.put({ key: "a1", value: "y", prev_kv: true })).toMatchObject({ revision: 3, prev_kv: { key: "a1", value: "x", version: 1 } });
    await backend.put({ key: "a2", value: "z" });
    await backend.put({ key: "b", value: "w" });
    const range = await backend.range({ key: "a", range_end: "b", sort_order: "desc", sort_target: "key", limit: 1, serializable: true });
    expect(range).toMatchObject({ count: 2, more: true, revision: 5 });
    expect(range.kvs.map((kv) => kv.key)).toEqual(["a2"]);
    expect(reads.at(-1)).toBe("stale");
    expect((await backend.range({ key: "a1", revision: 2 })).kvs[0]!.value).toBe("x");
    expect(reads.at(-1)).toBe("linearizable");
    expect(await backend.range({ key: "a", range_end: "b", count_only: true })).toMatchObject({ kvs: [], count: 2 });
    const deleted = await backend.deleteRange({ key: "a", range_end: "b", prev_kv: true });
    expect(deleted).toMatchObject({ revision: 6, deleted: 2 });
    expect(deleted.prev_kvs!.map((kv) => kv.value)).toEqual(["y", "z"]);
    expect(await backend.deleteRange({ key: "a1" })).toMatchObject({ revision: 6, deleted: 0 });
  });

  test("txn: compares pick the branch, nested responses; compact; store refusals keep their codes", async () => {
    const { backend } = fakeApi();
    await backend.put({ key: "k", value: "1" });
    const txn = await backend.txn({
      compare: [{ key: "k", target: "value", result: "=", value: "1" }],
      success: [{ put: { key: "k", value: "2" } }, { txn: { compare: [], success: [{ range: { key: "k" } }], failure: [] } }],
      failure: [],
    });
    expect(txn.succeeded).toBe(true);
    expect(txn.revision).toBe(3);
    expect(JSON.stringify(txn.responses[1])).toContain('"value":"2"');
    expect((await backend.txn({ compare: [{ key: "k", target: "version", result: ">", value: 5 }], success: [], failure: [{ range: { key: "k" } }] })).succeeded).toBe(false);
    expect(await backend.compact({ revision: 3 })).toEqual({ revision: 3 });
    await expect(backend.range({ key: "k", revision: 2 })).rejects.toMatchObject({ code: "compacted" });
    await expect(backend.range({ key: "k", revision: 99 })).rejects.toMatchObject({ code: "future_revision" });
    await expect(backend.put({ key: "nope", value: "", ignore_value: true })).rejects.toMatchObject({ code: "key_not_found" });
    const dup = { compare: [], success: [{ put: { key: "d", value: "1" } }, { put: { key: "d", value: "2" } }], failure: [] };
    await expect(backend.txn(dup)).rejects.toMatchObject({ code: "duplicate_key" });
  });

  test("txn: a compare on a key's lease takes the branch the store decides (a missing key has lease 0)", async () => {
    const { backend, api } = fakeApi();
    await api.kvRequest({ kind: "lease_grant", lease_grant: { id: 77, ttl: 60 } });
    await backend.put({ key: "held", value: "x", lease: 77 });
    await backend.put({ key: "free", value: "y" });
    const onLease = (key: string, value: number, result: "=" | "!=" = "=") =>
      backend.txn({ compare: [{ key, target: "lease", result, value }], success: [{ range: { key } }], failure: [] });
    expect((await onLease("held", 77)).succeeded).toBe(true);
    expect((await onLease("held", 78)).succeeded).toBe(false);
    expect((await onLease("free", 0)).succeeded).toBe(true);
    expect((await onLease("free", 77, "!=")).succeeded).toBe(true);
    expect((await onLease("missing", 0)).succeeded).toBe(true);
    expect((await onLease("missing", 77)).succeeded).toBe(false);
  });

  test("leases on the leader are the node's: grant (TTL raised, too large refused), keep-alive, time-to-live, list, revoke", async () => {
    const { api } = fakeApi();
    const calls: unknown[] = [];
    Object.assign(api, {
      leaseGrant: async (ttl: number, id: number | undefined) => (calls.push(["grant", ttl, id]), { id: id ?? 9, ttl: Math.max(ttl, 2) }),
      leaseRevoke: async (id: number) => (calls.push(["revoke", id]), { revision: 12, deleted: 1 }),
      leaseKeepAlive: async (id: number) => (calls.push(["keepalive", id]), { id, ttl: 30 }),
      leaseTimeToLive: async (id: number, keys: boolean) => ({ id, ttl: 29, remaining_ms: 29_500, granted_ttl: 30, ...(keys ? { keys: ["a"] } : {}) }),
      leaseList: async () => [{ id: 9, ttl: 30 }, { id: 10, ttl: 5 }],
    });
    const backend = createNodeBackend(api, { grpcAddr: "g", requestTimeoutMs: 1000 });
    expect(await backend.leaseGrant({ id: 0, ttl: 0 })).toEqual({ id: 9, ttl: 2 });
    expect(await backend.leaseGrant({ id: 5, ttl: 30 })).toEqual({ id: 5, ttl: 30 });
    await expect(backend.leaseGrant({ id: 0, ttl: 10 ** 12 })).rejects.toMatchObject({ code: "lease_ttl_too_large" });
    expect(await backend.leaseKeepAlive(9)).toEqual({ id: 9, ttl: 30 });
    expect(await backend.leaseTimeToLive(9, true)).toEqual({ id: 9, ttl: 29, granted_ttl: 30, keys: ["a"] });
    expect(await backend.leaseTimeToLive(9, false)).toEqual({ id: 9, ttl: 29, granted_ttl: 30, keys: [] });
    expect(await backend.leases()).toEqual([9, 10]);
    expect(await backend.leaseRevoke(9)).toEqual({ revision: 12 });
    expect(calls).toEqual([["grant", 1, undefined], ["grant", 30, 5], ["keepalive", 9], ["revoke", 9]]);
  });

  test("leases on a follower go to the leader's /lease routes (keep-alives too), marked forwarded; its refusals keep their codes", async () => {
    const seen: string[] = [];
    const leader = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const url = new URL(req.url);
        const body = req.method === "POST" ? await req.text() : "";
        seen.push(`${req.method} ${url.pathname}${url.search} ${body} ${req.headers.get("x-qklzl-forwarded")}`);
        if (url.pathname === "/lease/grant") return Response.json({ id: 41, ttl: 6 });
        if (url.pathname === "/lease/keepalive") {
          const { id } = JSON.parse(body) as { id: number };
          if (id !== 41) return Response.json({ error: "lease_not_found", message: `lease ${id} not found` }, { status: 404 });
          return Response.json({ id, ttl: 6 });
        }
        if (url.pathname === "/lease/revoke") return Response.json({ ok: true, revision: 33, deleted: 2 });
        if (url.pathname === "/lease/41") return Response.json({ id: 41, ttl: 5, remaining_ms: 5100, granted_ttl: 6, keys: ["k1", "k2"] });
        if (url.pathname === "/leases") return Response.json({ leases: [{ id: 41, ttl: 6 }] });
        return Response.json({ error: "not_found", message: "no route" }, { status: 404 });
      },
    });
    try {
      const { api } = fakeApi("follower");
      const notLeader = async () => {
        throw new QklzlError("not_leader", "not the leader", { leader_id: 1, leader_http_addr: `127.0.0.1:${leader.port}` });
      };
      Object.assign(api, { leaseGrant: notLeader, leaseRevoke: notLeader, leaseKeepAlive: notLeader, leaseTimeToLive: notLeader, leaseList: notLeader });
      const backend = createNodeBackend(api, { grpcAddr: "g", requestTimeoutMs: 2000 });
      expect(await backend.leaseGrant({ id: 0, ttl: 6 })).toEqual({ id: 41, ttl: 6 });
      expect(await backend.leaseKeepAlive(41)).toEqual({ id: 41, ttl: 6 });
      await expect(backend.leaseKeepAlive(40)).rejects.toMatchObject({ code: "lease_not_found" });
      expect(await backend.leaseTimeToLive(41, true)).toEqual({ id: 41, ttl: 5, granted_ttl: 6, keys: ["k1", "k2"] });
      expect(await backend.leases()).toEqual([41]);
      expect(await backend.leaseRevoke(41)).toEqual({ revision: 33 });
      // An id no lease can have is not found here, as on the leader (its route would refuse it as malformed).
      await expect(backend.leaseTimeToLive(0, false)).rejects.toMatchObject({ code: "lease_not_found" });
      await expect(backend.leaseKeepAlive(-5)).rejects.toMatchObject({ code: "lease_not_found" });
      expect(seen).toEqual([
        'POST /lease/grant {"ttl":6} 1',
        'POST /lease/keepalive {"id":41} 1',
        'POST /lease/keepalive {"id":40} 1',
        "GET /lease/41?keys=true  1",
        "GET /leases  1",
        'POST /lease/revoke {"id":41} 1',
      ]);
    } finally {
      leader.stop(true);
    }
  });

  test("watch: history from start_revision, then live, prev_kv; compacted start; cancel", async () => {
    const { backend } = fakeApi();
    await backend.put({ key: "w", value: "1" });
    const seen: string[] = [];
    const listener = {
      writable: () => true,
      // One message may carry several whole revisions (mergeRevisions): each event is labelled by its own
      // revision, and the message's revision must be its last event's.
      events: (events: Array<{ type: string; kv: { value: string; mod_revision: number }; prev_kv?: { value: string } }>, revision: number) => {
        expect(revision).toBe(events.at(-1)!.kv.mod_revision);
        seen.push(...events.map((e) => `${e.kv.mod_revision}:${e.type}:${e.kv.value}:${e.prev_kv?.value ?? "-"}`));
      },
      progress: (revision: number) => seen.push(`progress:${revision}`),
      compacted: (revision: number) => seen.push(`compacted:${revision}`),
      closed: () => seen.push("closed"),
    };
    const handle = await backend.watch({ key: "w", start_revision: 2, prev_kv: true }, listener as never);
    expect(handle.revision).toBe(2);
    await backend.put({ key: "w", value: "2" });
    await backend.deleteRange({ key: "w" });
    await Bun.sleep(20);
    expect(seen).toEqual(["2:put:1:-", "3:put:2:1", "4:delete::2"]);
    handle.requestProgress();
    await Bun.sleep(20);
    expect(seen.at(-1)).toBe("progress:4");
    handle.cancel();
    await backend.put({ key: "w", value: "3" });
    await backend.compact({ revision: 4 });
    await Bun.sleep(20);
    expect(seen.length).toBe(4);
    await backend.watch({ key: "w", start_revision: 2 }, listener as never);
    await Bun.sleep(20);
    expect(seen.at(-1)).toBe("compacted:4");
  });

  test("watch backpressure: nothing is taken while the listener is not writable; resume delivers what was held", async () => {
    const { backend } = fakeApi();
    let writable = false;
    const seen: number[] = [];
    const listener = { writable: () => writable, events: (e: Array<{ kv: { mod_revision: number } }>) => seen.push(...e.map((event) => event.kv.mod_revision)), progress() {}, compacted() {}, closed() {} };
    const handle = await backend.watch({ key: "bp" }, listener as never);
    await backend.put({ key: "bp", value: "1" });
    await backend.put({ key: "bp", value: "2" });
    await Bun.sleep(20);
    expect(seen).toEqual([]);
    writable = true;
    handle.resume();
    await Bun.sleep(20);
    expect(seen).toEqual([2, 3]);
    handle.cancel();
  });

  test("hashKV: the store's current hash and the revision it covers; a future or compacted revision is refused", async () => {
    const { backend, kv } = fakeApi();
    await backend.put({ key: "h", value: "1" });
    await backend.put({ key: "h", value: "2" });
    await backend.compact({ revision: 2 });
    expect(await backend.hashKV(0)).toEqual({ hash: kv.stats().hash, hash_revision: 3, compact_revision: 2 });
    expect((await backend.hashKV(3)).hash_revision).toBe(3);
    await expect(backend.hashKV(4)).rejects.toMatchObject({ code: "future_revision" });
    await expect(backend.hashKV(1)).rejects.toMatchObject({ code: "compacted" });
  });

  test("putBytes: the leader proposes the raw entry (the value stays bytes) and answers the store's revision", async () => {
    const { backend, rawPuts } = fakeApi();
    const value = new Uint8Array([0x68, 0xc3, 0xa9, 0x21]); // "hé!": multi-byte UTF-8, read back byte for byte
    expect(await backend.putBytes!("k", value)).toEqual({ revision: 2 });
    expect(await backend.putBytes!("k", new Uint8Array(0))).toEqual({ revision: 3 });
    expect(rawPuts).toEqual(["k", "k"]);
    const kvs = (await backend.range({ key: "k", revision: 2 })).kvs;
    expect(Buffer.from(kvs[0]!.value, "utf8")).toEqual(Buffer.from(value));
    expect((await backend.range({ key: "k" })).kvs[0]).toMatchObject({ value: "", version: 2 });
  });

  test("putBytes on a follower is forwarded to the leader's POST /txn as the JSON put", async () => {
    const seen: string[] = [];
    const leader = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        seen.push(`${new URL(req.url).pathname} ${await req.text()} ${req.headers.get("x-qklzl-forwarded")}`);
        return Response.json({ succeeded: true, responses: [{ put: { revision: 9 } }], revision: 9 });
      },
    });
    try {
      const { backend, rawPuts } = fakeApi("follower", `127.0.0.1:${leader.port}`);
      expect(await backend.putBytes!("k", Buffer.from("v1"))).toEqual({ revision: 9 });
      expect(rawPuts).toEqual([]);
      expect(seen).toEqual(['/txn {"compare":[],"success":[{"put":{"key":"k","value":"v1"}}],"failure":[]} 1']);
    } finally {
      leader.stop(true);
    }
  });

  test("a follower with no leader address refuses a write as no_leader (forwarding needs one)", async () => {
    const { backend } = fakeApi("follower");
    await expect(backend.put({ key: "a", value: "1" })).rejects.toMatchObject({ code: "no_leader" });
  });

  test("addMember picks the next free node id and refuses an address already in use", async () => {
    const joins: unknown[] = [];
    const { api } = fakeApi();
    (api as { join: unknown }).join = async (request: unknown) => {
      joins.push(request);
      return { clusterId: "c-1", members: [] };
    };
    const backend = createNodeBackend(api, { grpcAddr: "g", requestTimeoutMs: 1000 });
    expect(await backend.addMember({ raft_addr: "r4", http_addr: "h4" })).toMatchObject({ node_id: 4, is_learner: true });
    expect(joins).toEqual([{ id: 4, raftAddr: "r4", httpAddr: "h4" }]);
    await expect(backend.addMember({ raft_addr: "r1", http_addr: "h9" })).rejects.toMatchObject({ code: "peer_url_exists" });
  });
});
