import { describe, expect, test } from "bun:test";
import type { KvCommand } from "../../../src/kv/types.ts";
import type { Consistency, NodeApi, StatusJson } from "../../../src/node/api.ts";
import { NotSupportedError } from "../../../src/node/grpc/backend.ts";
import { createNodeBackend } from "../../../src/node/grpc/node_backend.ts";
import { QklzlError } from "../../../src/shared/errors.ts";

// node_backend.ts over a NodeApi double: what today's node can answer it answers from the node (no invented
// revisions); everything else is NotSupportedError, and nothing is written for a refused request.

function fakeApi(role: "leader" | "follower" = "leader") {
  const map = new Map<string, string>();
  const writes: KvCommand[] = [];
  const reads: Array<[string, Consistency]> = [];
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
    write: async (command: KvCommand) => {
      if (role !== "leader") throw new QklzlError("not_leader", "not the leader", { leader_id: 1, leader_http_addr: "" });
      writes.push(command);
      if (command.op === "put") map.set(command.key, command.value);
      else map.delete(command.key);
      return { index: 41 };
    },
    read: async (key: string, consistency: Consistency) => {
      reads.push([key, consistency]);
      const value = map.get(key);
      return value === undefined ? null : { value };
    },
  } as unknown as NodeApi;
  return { api, map, writes, reads, backend: createNodeBackend(api, { grpcAddr: "127.0.0.1:2379", requestTimeoutMs: 1000 }) };
}

describe("node backend (today's single-key node)", () => {
  test("info maps /status: ids, leader, term, indexes, learners, this member's gRPC address; revision 0", () => {
    const info = fakeApi().backend.info();
    expect(info).toMatchObject({ cluster_id: "c-1", node_id: 2, leader_node_id: 2, raft_term: 5, raft_index: 40, raft_applied_index: 39, revision: 0, is_learner: false });
    expect(info.members.map((m) => [m.node_id, m.is_learner, m.grpc_addr])).toEqual([[1, false, ""], [2, false, "127.0.0.1:2379"], [3, true, ""]]);
  });

  test("put, range and delete of one key go through write and read; revisions stay 0", async () => {
    const { backend, writes, reads } = fakeApi();
    expect(await backend.put({ key: "k", value: "v" })).toEqual({ revision: 0 });
    const range = await backend.range({ key: "k", serializable: true });
    expect(range).toEqual({ kvs: [{ key: "k", value: "v", create_revision: 0, mod_revision: 0, version: 0, lease: 0 }], count: 1, more: false, revision: 0 });
    expect(reads.at(-1)).toEqual(["k", "stale"]);
    expect((await backend.range({ key: "k", keys_only: true })).kvs[0]!.value).toBe("");
    expect(reads.at(-1)).toEqual(["k", "linearizable"]);
    expect(await backend.deleteRange({ key: "k" })).toEqual({ revision: 0, deleted: 1 });
    // A key that is not there is not deleted again: no log entry for nothing.
    expect(await backend.deleteRange({ key: "k" })).toEqual({ revision: 0, deleted: 0 });
    expect(writes).toEqual([{ op: "put", key: "k", value: "v" }, { op: "delete", key: "k" }]);
  });

  test("what needs the MVCC store or leases is NotSupportedError, and writes nothing", async () => {
    const { backend, writes } = fakeApi();
    const refusals = [
      backend.range({ key: "a", range_end: "b" }),
      backend.range({ key: "a", revision: 3 }),
      backend.range({ key: "a", min_mod_revision: 2 }),
      backend.put({ key: "a", value: "1", prev_kv: true }),
      backend.put({ key: "a", value: "1", lease: 5 }),
      backend.put({ key: "a", value: "1", ignore_value: true }),
      backend.deleteRange({ key: "a", range_end: "\0" }),
      backend.deleteRange({ key: "a", prev_kv: true }),
      backend.txn({ compare: [], success: [], failure: [] }),
      backend.compact({ revision: 1 }),
      backend.leaseGrant({ id: 0, ttl: 5 }),
      backend.hashKV(7),
    ];
    for (const refusal of refusals) await expect(refusal).rejects.toBeInstanceOf(NotSupportedError);
    expect(() => backend.watch({ key: "a" }, { events() {}, progress() {}, compacted() {} })).toThrow(NotSupportedError);
    expect(writes).toEqual([]);
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
