import type { StatusJson } from "../../node/api.ts";
import { show } from "./check.ts";
import { tailLines } from "./output.ts";

// report.ts: what a failed wait or check appends to its message: per node, the process state, the last
// /status and the tail of its log.

/** ReportedCluster: what a report reads from a cluster (the Launcher answers). */
export interface ReportedCluster {
  readonly root: string;
  readonly nodes: ReadonlyMap<number, { id: number; httpAddr: string; raftAddr: string; logPath: string; paused: boolean; lastStatus: StatusJson | null }>;
  isRunning(id: number): boolean;
  describeExit(id: number): string;
  status(id: number, timeoutMs?: number): Promise<StatusJson | null>;
}

/** diagnostics: per node, its process state, its last /status and the last `logLines` lines of its log. */
export async function diagnostics(cluster: ReportedCluster, logLines: number): Promise<string> {
  const out: string[] = [`cluster dir: ${cluster.root}`];
  for (const node of cluster.nodes.values()) {
    const live = cluster.isRunning(node.id) && !node.paused ? await cluster.status(node.id, 1000) : null;
    const status = live ?? node.lastStatus;
    out.push(`node ${node.id} (${cluster.describeExit(node.id)}), http ${node.httpAddr}, raft ${node.raftAddr}`);
    out.push(`  last /status${live === null && status !== null ? " (earlier)" : ""}: ${status === null ? "none" : show(compactStatus(status), 600)}`);
    const tail = tailLines(node.logPath, logLines);
    out.push(`  log tail (${node.logPath}):`);
    for (const line of tail) out.push(`    ${line}`);
  }
  return out.join("\n");
}

/** compactStatus keeps the fields that explain a failure, and the members. */
function compactStatus(s: StatusJson): Record<string, unknown> {
  return {
    id: s.id,
    state: s.state,
    is_leader: s.is_leader,
    leader_id: s.leader_id,
    term: s.term,
    commit_index: s.commit_index,
    applied_index: s.applied_index,
    last_log_index: s.last_log_index,
    snapshot_index: s.snapshot_index,
    snapshots_installed: s.snapshots_installed,
    kv_keys: s.kv_keys,
    members: s.members?.map((m) => `${m.id}:${m.role}@${m.match_index}`),
  };
}
