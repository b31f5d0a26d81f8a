import { isQklzlError, QklzlError } from "../../shared/errors.ts";
import type { NodeApi, StatusJson } from "../api.ts";
import {
  type DeleteRangeRequest,
  type EtcdBackend,
  type MemberInfo,
  type NodeInfo,
  NotSupportedError,
  type RangeRequest,
  type RangeResponse,
} from "./backend.ts";
import { EtcdError } from "./errors.ts";
import { onLeader } from "./forward.ts";

/**
 * node_backend.ts is the one adapter between the etcd endpoint and the node: EtcdBackend over NodeApi as it is
 * today, a single-key map without revisions. What that cannot answer truthfully (ranges over several keys,
 * revisions, txns, compaction, watch, leases, prev_kv) throws NotSupportedError naming what is missing; it does
 * not invent revisions (headers carry revision 0). When src/kv's MVCC store (issue 12) is on the node surface,
 * its range/put/deleteRange/txn/compact/watch take the place of these methods here and nothing else changes.
 */

const needs_mvcc = "needs the MVCC store (issue 12), which this node does not have yet";

export interface NodeBackendOptions {
  /** grpcAddr: this member's bound gRPC address (its clientURL in MemberList). */
  grpcAddr: string;
  requestTimeoutMs: number;
}

export function createNodeBackend(api: NodeApi, options: NodeBackendOptions): EtcdBackend {
  const unsupported = (what: string): never => {
    throw new NotSupportedError(`${what} ${needs_mvcc}`);
  };
  const noLeases = async (): Promise<never> => {
    throw new NotSupportedError("leases need the lease store (issue 'Watch and leases'), which this node does not have yet");
  };

  const members = (status: StatusJson): MemberInfo[] =>
    status.members.map((m) => ({
      node_id: m.id,
      raft_addr: m.raft_addr,
      http_addr: m.http_addr,
      grpc_addr: m.id === status.id ? options.grpcAddr : "",
      is_learner: m.role === "learner",
    }));

  const info = (): NodeInfo => {
    const status = api.status();
    return {
      cluster_id: status.cluster_id,
      node_id: status.id,
      leader_node_id: status.leader_id,
      raft_term: status.term,
      raft_index: status.commit_index,
      raft_applied_index: status.applied_index,
      revision: 0,
      db_size: 0,
      is_learner: status.members.some((m) => m.id === status.id && m.role === "learner"),
      members: members(status),
      kv_hash: status.kv_hash,
    };
  };

  /** readOne: one key, linearizable unless serializable; a read whose leader changed mid-round is retryable. */
  const readOne = async (key: string, serializable: boolean): Promise<{ value: string } | null> => {
    try {
      return await api.read(key, serializable ? "stale" : "linearizable");
    } catch (error) {
      if (isQklzlError(error) && error.code === "not_leader") throw new EtcdError("leader_changed", error.message);
      throw error;
    }
  };

  const write = (command: { op: "put"; key: string; value: string } | { op: "delete"; key: string }) =>
    onLeader(() => api.write(command), { path: "/kv", body: command }, options.requestTimeoutMs);

  const singleKey = (request: RangeRequest | DeleteRangeRequest, what: string): void => {
    if ((request.range_end ?? "") !== "") unsupported(`${what} over a key range or prefix`);
  };

  return {
    info,

    async range(request): Promise<RangeResponse> {
      singleKey(request, "a range");
      if ((request.revision ?? 0) !== 0) unsupported("a read at a revision");
      const filtered = [request.min_mod_revision, request.max_mod_revision, request.min_create_revision, request.max_create_revision];
      if (filtered.some((r) => (r ?? 0) !== 0)) unsupported("a range filtered by revisions");
      const found = await readOne(request.key, request.serializable === true);
      const kvs =
        found === null || request.count_only === true
          ? []
          : [{ key: request.key, value: request.keys_only === true ? "" : found.value, create_revision: 0, mod_revision: 0, version: 0, lease: 0 }];
      return { kvs, count: found === null ? 0 : 1, more: false, revision: 0 };
    },

    async put(request) {
      if ((request.lease ?? 0) !== 0 || request.ignore_lease === true) await noLeases();
      if (request.prev_kv === true) unsupported("prev_kv on a put");
      if (request.ignore_value === true) unsupported("ignore_value on a put");
      await write({ op: "put", key: request.key, value: request.value });
      return { revision: 0 };
    },

    async deleteRange(request) {
      singleKey(request, "a delete");
      if (request.prev_kv === true) unsupported("prev_kv on a delete");
      // deleted: today's write does not report whether the key existed, so a linearizable read decides; a
      // concurrent delete of the same key can make both callers see 1 (the MVCC store counts at apply).
      const found = await readOne(request.key, false);
      if (found === null) return { revision: 0, deleted: 0 };
      await write({ op: "delete", key: request.key });
      return { revision: 0, deleted: 1 };
    },

    txn: async () => unsupported("a txn"),
    compact: async () => unsupported("compaction"),
    watch: () => unsupported("watch"),
    leaseGrant: noLeases,
    leaseRevoke: noLeases,
    leaseKeepAlive: noLeases,
    leaseTimeToLive: noLeases,
    leases: noLeases,

    async addMember(request) {
      const status = api.status();
      const taken = status.members.find((m) => m.raft_addr === request.raft_addr || m.http_addr === request.http_addr);
      if (taken !== undefined) throw new EtcdError("peer_url_exists", `node ${taken.id} already uses raft ${taken.raft_addr} / http ${taken.http_addr}`);
      const id = Math.max(0, ...status.members.map((m) => m.id)) + 1;
      const join = { id, raftAddr: request.raft_addr, httpAddr: request.http_addr };
      await onLeader(
        () => api.join(join),
        { path: "/join", body: { id, raft_addr: request.raft_addr, http_addr: request.http_addr } },
        options.requestTimeoutMs,
      );
      return { node_id: id, raft_addr: request.raft_addr, http_addr: request.http_addr, grpc_addr: "", is_learner: true };
    },

    async removeMember(nodeId) {
      await onLeader(() => api.leave(nodeId), { path: "/leave", body: { id: nodeId } }, options.requestTimeoutMs);
    },

    async transferLeader(nodeId) {
      await onLeader(() => api.transferLeader(nodeId), { path: "/transfer-leader", body: { id: nodeId } }, options.requestTimeoutMs);
    },

    async hashKV(revision) {
      if (revision !== 0) unsupported("a hash at a past revision");
      const status = api.status();
      if (status.kv_hash === "") throw new QklzlError("shutting_down", "the node has no store hash yet");
      return { hash: status.kv_hash, hash_revision: 0, compact_revision: 0 };
    },
  };
}
