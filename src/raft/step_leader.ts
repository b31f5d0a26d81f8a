import type { CoreState } from "./core_state.ts";
import { answerRead, leaderRead } from "./leader_read.ts";
import { maybeCommit, sendAppend, sendTimeoutNow } from "./replication.ts";
import type { Message } from "./types.ts";

type AppendResp = Extract<Message, { type: "append_resp" }>;

/** stepLeader handles a message of the leader's own term. */
export function stepLeader(r: CoreState, m: Message): void {
  switch (m.type) {
    case "append_resp":
      handleAppendResp(r, m);
      return;
    case "heartbeat_resp": {
      const pr = r.progress.get(m.from);
      if (!pr) return;
      pr.recentActive = true;
      pr.probeSent = false;
      pr.readWaiting = "";
      if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
      if (pr.match < r.log.lastIndex()) sendAppend(r, m.from, true);
      if (m.ctx !== "") {
        for (const read of r.reads.ack(m.ctx, m.from, r.membership.voters)) answerRead(r, read, read.index);
      }
      return;
    }
    case "read_index":
      if (!r.membership.has(m.from)) return;
      leaderRead(r, m.ctx, m.from);
      return;
    case "append":
    case "heartbeat":
    case "snapshot":
      // Two leaders in one term is impossible; a message like this is a bug or a forgery: ignore it.
      return;
    default:
      return;
  }
}

function handleAppendResp(r: CoreState, m: AppendResp): void {
  const pr = r.progress.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  if (m.reject) {
    // Fast backtracking: skip to the last index where the follower's term is ≤ ours (etcd's hint).
    let next = m.hintIndex;
    if (m.hintTerm > 0) next = r.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
    if (pr.maybeDecrTo(m.index, next)) {
      if (pr.state === "replicate") pr.becomeProbe();
      sendAppend(r, m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) {
    if (wasPaused && !pr.isPaused()) sendAppend(r, m.from, false);
    return;
  }
  if (pr.state === "probe") pr.becomeReplicate();
  else if (pr.state === "snapshot" && pr.match + 1 >= r.log.firstIndex()) {
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === "replicate") pr.inflights.freeLE(m.index);
  if (maybeCommit(r)) {
    // The new commit index goes out with the next appends (one per follower per Ready, however many acks
    // advanced it meanwhile; takeMessages' early appends carry it too, but none is sent for it alone): each
    // extra append costs the follower a step, a Ready and an ack.
    r.pendingBcast = true;
  } else {
    // A follower that was paused may have missed the commit index: tell it even with no entries.
    if (wasPaused) sendAppend(r, m.from, true);
    // Keep the pipeline full: send while the window allows and entries remain.
    while (sendAppend(r, m.from, false)) {
      if (pr.state !== "replicate") break;
    }
  }
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}
