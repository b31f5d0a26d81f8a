import { createHash } from "node:crypto";

/**
 * etcd names clusters and members by uint64 ids. qklzl has a cluster id (a UUID string) and small node ids, so
 * the endpoint derives etcd's ids from them: the first 8 bytes of SHA-256 over a labelled text, as an unsigned
 * 64-bit integer. Same inputs, same id, across restarts and on every member; a member's id depends on the
 * cluster too (as in etcd, where ids of different clusters do not collide). Ids travel as decimal strings:
 * most are above 2^53, where a JS number would round.
 */

const uint64_max = (1n << 64n) - 1n;

function hash64(text: string): bigint {
  const digest = createHash("sha256").update(text).digest();
  const id = digest.readBigUInt64BE(0);
  // etcd reads 0 as "no id" (e.g. ResponseHeader.member_id unset): never hand it out.
  return id === 0n ? 1n : id;
}

/** etcdClusterId: the uint64 cluster id for qklzl cluster `clusterId` ("" before the node knows it: 0). */
export function etcdClusterId(clusterId: string): bigint {
  return clusterId === "" ? 0n : hash64(`qklzl-cluster:${clusterId}`);
}

/** etcdMemberId: the uint64 member id of qklzl node `nodeId` in cluster `clusterId` (0 while that is unknown). */
export function etcdMemberId(clusterId: string, nodeId: number): bigint {
  return clusterId === "" ? 0n : hash64(`qklzl-member:${clusterId}:${nodeId}`);
}

/** parseUint64: a uint64 field as proto-loader hands it over (longs: String), or null if it is not one. */
export function parseUint64(value: unknown): bigint | null {
  const text = typeof value === "number" ? (Number.isSafeInteger(value) ? String(value) : "") : typeof value === "string" ? value : "";
  if (!/^[0-9]{1,20}$/.test(text)) return null;
  const id = BigInt(text);
  return id <= uint64_max ? id : null;
}

/** nodeIdOf finds the qklzl node whose derived member id is `memberId`, or null. */
export function nodeIdOf(clusterId: string, memberId: bigint, nodeIds: readonly number[]): number | null {
  for (const nodeId of nodeIds) if (etcdMemberId(clusterId, nodeId) === memberId) return nodeId;
  return null;
}

/** ResponseHeader as the protos have it, ids as decimal strings. */
export interface ResponseHeader {
  cluster_id: string;
  member_id: string;
  revision: number;
  raft_term: number;
}

/**
 * headerIds: the header's two ids as text for the last (cluster, node) asked: every answer carries them and they
 * change only when the node learns its cluster id, so two SHA-256 per call (a few % of a put's CPU) are saved.
 */
let headerIds: { cluster: string; node: number; cluster_id: string; member_id: string } | null = null;

export function responseHeader(facts: { cluster_id: string; node_id: number; revision: number; raft_term: number }): ResponseHeader {
  if (headerIds === null || headerIds.cluster !== facts.cluster_id || headerIds.node !== facts.node_id) {
    const cluster_id = etcdClusterId(facts.cluster_id).toString();
    const member_id = etcdMemberId(facts.cluster_id, facts.node_id).toString();
    headerIds = { cluster: facts.cluster_id, node: facts.node_id, cluster_id, member_id };
  }
  return { cluster_id: headerIds.cluster_id, member_id: headerIds.member_id, revision: facts.revision, raft_term: facts.raft_term };
}
