import type { KvStateMachine } from "../kv/index.ts";
import type { RaftCore } from "../raft/index.ts";
import type { ConfState, NodeId } from "../raft/types.ts";
import type { Storage } from "../storage/types.ts";
import type { MemberJson, StatusJson } from "./api.ts";
import type { NodeMetrics } from "./metrics.ts";
import type { Proposals } from "./proposals.ts";
import type { Reads } from "./reads.ts";

/** StatusSources: what GET /status and GET /metrics read, all owned by the runtime. */
export interface StatusSources {
  id: NodeId;
  core: RaftCore;
  kv: KvStateMachine;
  storage: Storage;
  metrics: NodeMetrics;
  proposals: Proposals;
  reads: Reads;
  raftAddr: string;
  httpAddr: string;
}

/** statusJson is the body of GET /status. */
export function statusJson(sources: StatusSources): StatusJson {
  const s = sources.core.status();
  const leader = s.members.find((m) => m.id === s.leaderId);
  const kv = sources.kv.stats();
  return {
    id: sources.id,
    state: s.role,
    is_leader: s.role === "leader",
    leader_id: s.leaderId,
    leader_http_addr: leader?.httpAddr ?? "",
    term: s.term,
    commit_index: s.commit,
    applied_index: kv.index,
    last_log_index: s.lastIndex,
    snapshot_index: sources.storage.log.snapshotMeta().index,
    first_index: sources.storage.log.firstIndex(),
    raft_addr: sources.raftAddr,
    http_addr: sources.httpAddr,
    members: s.members.map(
      (m): MemberJson => ({ id: m.id, raft_addr: m.raftAddr, http_addr: m.httpAddr, role: m.role, match_index: m.id === sources.id && s.role === "leader" ? s.lastIndex : m.matchIndex }),
    ),
    cluster_id: sources.storage.meta.clusterId ?? "",
    kv_hash: kv.hash,
    kv_hash_index: kv.index,
    kv_keys: kv.keys,
    kv_revision: kv.revision,
    kv_compact_revision: kv.compact_revision,
    snapshots_installed: sources.metrics.snapshotsInstalled,
    torn_tail_bytes: sources.storage.log.tornBytesAtOpen ?? 0,
  };
}

/** metricsText is the runtime's part of GET /metrics (Prometheus text; the HTTP layer appends its own). */
export function metricsText(sources: StatusSources): string {
  const s = sources.core.status();
  sources.metrics.readIndexRounds = sources.reads.roundsStarted;
  return sources.metrics.text({
    term: s.term,
    commitIndex: s.commit,
    appliedIndex: sources.kv.appliedIndex,
    lastLogIndex: s.lastIndex,
    snapshotIndex: s.snapshotIndex,
    isLeader: s.role === "leader",
    kvKeys: sources.kv.size,
    pendingProposals: sources.proposals.size,
    pendingReads: sources.reads.size,
  });
}

/** describeConf: "1,2,3(learner)" for a log line. */
export function describeConf(conf: ConfState): string {
  return conf.members.map((m) => `${m.id}${m.role === "learner" ? "(learner)" : ""}`).join(",") || "(none)";
}
