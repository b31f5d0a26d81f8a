import type { RaftCore } from "./raft.ts";
import type { Message } from "./types.ts";

type VoteRequest = Extract<Message, { type: "vote" | "pre_vote" }>;

/**
 * handleVoteRequest grants or rejects a (pre-)vote whose term is ≥ ours (step already handled the
 * lease and the term). A node grants at most one vote per term, and only to an up-to-date log (§3.6.1).
 */
export function handleVoteRequest(r: RaftCore, m: VoteRequest): void {
  const canVote =
    r.vote === m.from ||
    (r.vote === 0 && r.leaderId === 0) ||
    (m.type === "pre_vote" && m.term > r.term);
  const upToDate = r.cfg.faults?.voteWithoutLogCheck === true || r.log.isUpToDate(m.lastIndex, m.lastTerm);
  if (canVote && upToDate) {
    if (m.type === "vote") {
      r.electionElapsed = 0;
      r.vote = m.from;
      r.send({ type: "vote_resp", from: r.id, to: m.from, term: m.term, reject: false });
    } else {
      // Answer with the pre-vote's term so the pre-candidate counts it (our term is unchanged).
      r.send({ type: "pre_vote_resp", from: r.id, to: m.from, term: m.term, reject: false });
    }
    return;
  }
  if (m.type === "vote") r.send({ type: "vote_resp", from: r.id, to: m.from, term: r.term, reject: true });
  else r.send({ type: "pre_vote_resp", from: r.id, to: m.from, term: r.term, reject: true });
}
