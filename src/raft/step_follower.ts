import { handleAppend, handleHeartbeat, handleSnapshot } from "./append.ts";
import type { CoreState } from "./core_state.ts";
import type { Message } from "./types.ts";
import { hup } from "./vote.ts";

/** stepFollower handles a message of the follower's term. */
export function stepFollower(r: CoreState, m: Message): void {
  switch (m.type) {
    case "append":
      r.electionElapsed = 0;
      r.leaderId = m.from;
      handleAppend(r, m);
      return;
    case "heartbeat":
      r.electionElapsed = 0;
      r.leaderId = m.from;
      handleHeartbeat(r, m);
      return;
    case "snapshot":
      r.electionElapsed = 0;
      r.leaderId = m.from;
      handleSnapshot(r, m);
      return;
    case "timeout_now":
      // The leader hands over: campaign at once, skipping pre-vote and the lease (§3.10).
      hup(r, true);
      return;
    case "read_index":
      // Forwarded to a node that is not the leader (any more): the reader retries elsewhere.
      r.send({ type: "read_index_resp", from: r.id, to: m.from, term: r.term, ctx: m.ctx, index: -1 });
      return;
    case "read_index_resp":
      if (!r.forwardedReads.delete(m.ctx)) return; // already failed (or answered): answer once
      r.readStates.push({ ctx: m.ctx, index: m.index });
      return;
    default:
      return;
  }
}
