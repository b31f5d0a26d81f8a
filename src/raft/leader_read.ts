import { assert } from "../shared/assert.ts";
import type { CoreState } from "./core_state.ts";
import type { PendingRead } from "./read_index.ts";
import type { Index, NodeId } from "./types.ts";

/** committedInTerm: the leader committed an entry of its own term, so its commit index is the cluster's (§6.4). */
export function committedInTerm(r: CoreState): boolean {
  return r.log.term(r.log.committed) === r.term;
}

/** leaderRead serves a ReadIndex request on the leader (thesis §6.4). from 0 = local. */
export function leaderRead(r: CoreState, ctx: string, from: NodeId): void {
  assert(r.role === "leader", "raft: leaderRead on a non-leader");
  if (!committedInTerm(r)) {
    r.readsAwaitingCommit.push({ ctx, from, index: 0, acks: new Set() });
    return;
  }
  const read: PendingRead = { ctx, from, index: r.log.committed, acks: new Set([r.id]) };
  if (r.membership.voters.length === 1 || r.cfg.faults?.readIndexWithoutQuorum) {
    answerRead(r, read, read.index);
    return;
  }
  // Reads batch: every read queued before the round's heartbeats go out (at ready()) shares the round.
  r.reads.add(read);
  r.pendingReadRound = true;
}

/** answerRead hands the read point to a local reader (a ReadState) or to the follower that forwarded it. */
export function answerRead(r: CoreState, read: PendingRead, index: Index): void {
  if (read.from === 0 || read.from === r.id) r.readStates.push({ ctx: read.ctx, index });
  else r.send({ type: "read_index_resp", from: r.id, to: read.from, term: r.term, ctx: read.ctx, index });
}

/** failReads answers every pending read with -1 (leadership lost). */
export function failReads(r: CoreState): void {
  for (const read of r.reads.drain()) answerRead(r, read, -1);
  for (const read of r.readsAwaitingCommit) answerRead(r, read, -1);
  r.readsAwaitingCommit = [];
}

/** onLeaderCommit: reads queued until the leader committed in its term may proceed now. */
export function onLeaderCommit(r: CoreState): void {
  if (r.readsAwaitingCommit.length === 0 || !committedInTerm(r)) return;
  const waiting = r.readsAwaitingCommit;
  r.readsAwaitingCommit = [];
  for (const read of waiting) leaderRead(r, read.ctx, read.from);
}
