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

/**
 * sendReadRound sends round `ctx`'s tagged heartbeat to as few voters as a majority needs (thesis §6.4 asks for a
 * majority's acks, not everyone's): with three voters, the leader and one follower. Followers take turns, so each
 * answers every other round, and the leader writes and reads one message per round instead of one per follower.
 * Only a follower that answered every read heartbeat it got and has no entries in flight (not busy with an append
 * and its fsync) is picked; when fewer than needed are, every voter is asked, as a broadcast round always did.
 * A round whose chosen follower stays silent is still answered by the next periodic heartbeat, which goes to all,
 * or released by a later round's majority (ReadIndexQueue.ack). Safety does not depend on whom we ask: a read
 * is released only by a majority of acks for a round sent after it was registered.
 */
export function sendReadRound(r: CoreState, ctx: string): void {
  const voters = r.membership.voters;
  const followers = voters.filter((id) => id !== r.id && r.progress.has(id));
  // The leader's own ack counts only if it is a voter (it may be leaving the configuration).
  const needed = Math.floor(voters.length / 2) + 1 - (voters.includes(r.id) ? 1 : 0);
  const lastIndex = r.log.lastIndex();
  const picked: NodeId[] = [];
  const start = followers.length === 0 ? 0 : r.readRounds % followers.length;
  for (let i = 0; i < followers.length && picked.length < needed; i++) {
    const id = followers[(start + i) % followers.length]!;
    const pr = r.progress.get(id)!;
    if (pr.readWaiting === "" && pr.match >= lastIndex) picked.push(id);
  }
  r.readRounds++;
  for (const id of picked.length >= needed ? picked : followers) {
    const pr = r.progress.get(id)!;
    pr.readWaiting = ctx;
    r.send({ type: "heartbeat", from: r.id, to: id, term: r.term, commit: Math.min(r.log.committed, pr.match), ctx });
  }
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
