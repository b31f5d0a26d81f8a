// confirmRemoval: a committed removal of this node's id that names no incarnation (written before they
// existed) may be the removal of an earlier life of this id, replayed by a node that rejoined with a wiped
// data directory. The node stops only once a leader of its cluster confirms that its configuration does not
// hold this node; a leader that lists it means the removal is history.
import type { NodeId } from "../raft/types.ts";
import { fetchStatus } from "./cluster_client.ts";
import type { NodeRuntime } from "./runtime.ts";

/** confirm_attempts_max bounds the asking (one round per election timeout); unanswered, the node keeps running. */
const confirm_attempts_max = 30;

export async function confirmRemoval(rt: NodeRuntime, joinAddr: string | null, index: number): Promise<void> {
  const self: NodeId = rt.options.id;
  for (let attempt = 0; attempt < confirm_attempts_max && !rt.stopping; attempt++) {
    for (const addr of contactAddresses(rt, joinAddr)) {
      const status = await fetchStatus(addr, Math.min(rt.options.requestTimeoutMs, 5_000), rt.memberHttp);
      if (status === null || !status.is_leader || status.cluster_id !== rt.storage.meta.clusterId) continue;
      if (status.members.some((m) => m.id === self)) {
        rt.logger.info(`the removal of node ${self} at index ${index} is history: leader ${status.id} (term ${status.term}) lists this node`);
        return;
      }
      rt.logger.warn(`leader ${status.id} (term ${status.term}) confirms the removal of this node at index ${index}`);
      rt.reportRemoved();
      return;
    }
    await Bun.sleep(rt.options.electionMs);
  }
  if (!rt.stopping) rt.logger.warn(`the removal of node ${self} at index ${index} was never confirmed by a leader: this node keeps running`);
}

/** contactAddresses: the known leader first, then the -join address, then every other member. */
function contactAddresses(rt: NodeRuntime, joinAddr: string | null): string[] {
  const out: string[] = [];
  const leaderId = rt.softState().leaderId;
  const leader = leaderId === 0 || leaderId === rt.options.id ? undefined : rt.softState().membership.member(leaderId);
  if (leader !== undefined) out.push(leader.httpAddr);
  if (joinAddr !== null) out.push(joinAddr);
  for (const m of rt.raftStatus().members) if (m.id !== rt.options.id) out.push(m.httpAddr);
  return [...new Set(out.filter((a) => a !== "" && a !== rt.httpAddr))];
}
