import type { RaftCore } from "./raft.ts";
import { handleAppend, handleHeartbeat, handleSnapshot } from "./step_follower.ts";
import type { Message } from "./types.ts";

/** stepCandidate handles a message of the (pre-)candidate's term. */
export function stepCandidate(r: RaftCore, m: Message): void {
  switch (m.type) {
    case "append":
      r.becomeFollower(m.term, m.from);
      handleAppend(r, m);
      return;
    case "heartbeat":
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return;
    case "snapshot":
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return;
    case "pre_vote_resp":
      if (r.role !== "pre_candidate") return;
      r.votes.set(m.from, !m.reject);
      r.poll();
      return;
    case "vote_resp":
      if (r.role !== "candidate") return;
      r.votes.set(m.from, !m.reject);
      r.poll();
      return;
    case "read_index":
      r.send({ type: "read_index_resp", from: r.id, to: m.from, term: r.term, ctx: m.ctx, index: -1 });
      return;
    default:
      return;
  }
}
