import { handleAppend, handleHeartbeat, handleSnapshot } from "./append.ts";
import type { CoreState } from "./core_state.ts";
import type { Message } from "./types.ts";
import { poll } from "./vote.ts";

/** stepCandidate handles a message of the (pre-)candidate's term. */
export function stepCandidate(r: CoreState, m: Message): void {
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
      poll(r);
      return;
    case "vote_resp":
      if (r.role !== "candidate") return;
      r.votes.set(m.from, !m.reject);
      poll(r);
      return;
    case "read_index":
      r.send({ type: "read_index_resp", from: r.id, to: m.from, term: r.term, ctx: m.ctx, index: -1 });
      return;
    default:
      return;
  }
}
