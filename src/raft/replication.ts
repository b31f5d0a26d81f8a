import { assert } from "../shared/assert.ts";
import { committedIndex, voteResult } from "./quorum.ts";
import type { CoreState } from "./core_state.ts";
import type { NodeId } from "./types.ts";

/**
 * sendAppend sends `to` the entries after its next index, or a snapshot when they were compacted.
 * false when nothing was sent (paused, or nothing new and !sendIfEmpty).
 */
export function sendAppend(r: CoreState, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.progress.get(to);
  if (!pr || to === r.id || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined || pr.next < r.log.firstIndex()) {
    const snapshot = r.log.snapshotMeta();
    assert(snapshot.index > 0 && snapshot.index >= prevIndex, "raft: entries were compacted into a snapshot");
    r.send({ type: "snapshot", from: r.id, to, term: r.term, snapshot });
    pr.becomeSnapshot(snapshot.index);
    return true;
  }
  const last = r.log.lastIndex();
  const hi = Math.min(last + 1, pr.next + r.cfg.maxEntriesPerMessage);
  const entries = pr.next <= last ? r.log.slice(pr.next, hi, r.cfg.maxBytesPerMessage) : [];
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ type: "append", from: r.id, to, term: r.term, prevIndex, prevTerm, entries, commit: r.log.committed });
  const lastSent = entries[entries.length - 1];
  pr.sentEntries(lastSent ? lastSent.index : prevIndex, entries.length);
  return true;
}

/** bcastAppend sends every follower what it is missing (an empty append carries a new commit index). */
export function bcastAppend(r: CoreState): void {
  for (const id of r.progress.keys()) {
    if (id !== r.id) sendAppend(r, id, true);
  }
}

/** bcastHeartbeat: commit = min(commit, match) so a follower never commits what it may not have. */
export function bcastHeartbeat(r: CoreState, ctx: string): void {
  for (const [id, pr] of r.progress) {
    if (id === r.id) continue;
    r.send({ type: "heartbeat", from: r.id, to: id, term: r.term, commit: Math.min(r.log.committed, pr.match), ctx });
  }
}

export function sendTimeoutNow(r: CoreState, to: NodeId): void {
  r.send({ type: "timeout_now", from: r.id, to, term: r.term });
}

/**
 * maybeCommit commits the index a majority of voters acknowledged, but only if it is of the current
 * term (Figure 8, thesis §3.6.2); true when commit moved.
 */
export function maybeCommit(r: CoreState): boolean {
  const index = committedIndex(r.membership.voters, (id) => r.progress.get(id)?.match ?? 0);
  if (index <= r.log.committed) return false;
  if (r.log.term(index) !== r.term && !r.cfg.faults?.commitPreviousTermByCount) return false;
  return r.commitTo(index);
}

/** quorumActive: on a leader, a majority of voters (itself included) was heard from within this election timeout. */
export function quorumActive(r: CoreState): boolean {
  if (r.role !== "leader") return false;
  const active = new Map<NodeId, boolean>();
  for (const [id, pr] of r.progress) if (pr.recentActive || id === r.id) active.set(id, true);
  return voteResult(r.membership.voters, active) === "won";
}
