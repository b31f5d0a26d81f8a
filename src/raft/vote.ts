import type { CoreState } from "./core_state.ts";
import { voteResult } from "./quorum.ts";
import type { Message } from "./types.ts";

type VoteRequest = Extract<Message, { type: "vote" | "pre_vote" }>;

/** hup starts an election (pre-vote first unless a leadership transfer forces a real one, §3.10, §9.6). */
export function hup(r: CoreState, transfer: boolean): void {
  if (r.role === "leader" || !r.promotable()) return;
  if (r.cfg.preVote && !transfer) campaign(r, "pre_vote", false);
  else campaign(r, "vote", transfer);
}

function campaign(r: CoreState, kind: "pre_vote" | "vote", transfer: boolean): void {
  if (kind === "pre_vote") r.becomePreCandidate();
  else r.becomeCandidate();
  const voteTerm = kind === "pre_vote" ? r.term + 1 : r.term;
  r.votes.set(r.id, true);
  if (poll(r)) return;
  const lastIndex = r.log.lastIndex();
  const lastTerm = r.log.lastTerm();
  for (const id of r.membership.voters) {
    if (id === r.id) continue;
    if (kind === "pre_vote") {
      r.send({ type: "pre_vote", from: r.id, to: id, term: voteTerm, lastIndex, lastTerm });
    } else {
      // Vote requests wait for our own term/vote to be durable: we count our own vote at once.
      r.msgsAfterPersist.push({ type: "vote", from: r.id, to: id, term: voteTerm, lastIndex, lastTerm, transfer });
    }
  }
}

/** poll evaluates the votes; true when the election ended (won or lost). */
export function poll(r: CoreState): boolean {
  const result = voteResult(r.membership.voters, r.votes);
  if (result === "won") {
    if (r.role === "pre_candidate") campaign(r, "vote", false);
    else r.becomeLeader();
    return true;
  }
  if (result === "lost") {
    r.becomeFollower(r.term, 0);
    return true;
  }
  return false;
}

/**
 * handleVoteRequest grants or rejects a (pre-)vote whose term is ≥ ours (step already handled the
 * lease and the term). A node grants at most one vote per term, and only to an up-to-date log (§3.6.1).
 */
export function handleVoteRequest(r: CoreState, m: VoteRequest): void {
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
