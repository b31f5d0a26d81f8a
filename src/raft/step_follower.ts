import { assert } from "../shared/assert.ts";
import type { RaftCore } from "./raft.ts";
import type { Message } from "./types.ts";

type Of<T extends Message["type"]> = Extract<Message, { type: T }>;

/** stepFollower handles a message of the follower's term. */
export function stepFollower(r: RaftCore, m: Message): void {
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
      r.hup(true);
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

export function handleAppend(r: RaftCore, m: Of<"append">): void {
  const resp = { type: "append_resp" as const, from: r.id, to: m.from, term: r.term, hintIndex: 0, hintTerm: 0 };
  if (m.prevIndex < r.log.committed) {
    // Everything up to our commit already matches the leader (Log Matching).
    r.send({ ...resp, index: r.log.committed, reject: false });
    return;
  }
  if (r.log.matchTerm(m.prevIndex, m.prevTerm)) {
    const lastNew = m.prevIndex + m.entries.length;
    const conflict = r.log.findConflict(m.entries);
    if (conflict !== 0) {
      assert(conflict > r.log.committed, `raft: append conflicts with committed entry ${conflict}`);
      r.appendFromLeader(m.entries.slice(conflict - m.prevIndex - 1));
    }
    r.commitTo(Math.min(m.commit, lastNew));
    r.send({ ...resp, index: lastNew, reject: false });
    return;
  }
  // Reject with a hint: the last index ≤ prevIndex whose term is ≤ prevTerm, so the leader can skip
  // a whole divergent term per round trip instead of one entry.
  const hint = r.log.findConflictByTerm(Math.min(m.prevIndex, r.log.lastIndex()), m.prevTerm);
  r.send({ ...resp, index: m.prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term });
}

export function handleHeartbeat(r: RaftCore, m: Of<"heartbeat">): void {
  r.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send({ type: "heartbeat_resp", from: r.id, to: m.from, term: r.term, ctx: m.ctx });
}

/**
 * handleSnapshot installs a snapshot beyond our commit. When our log already holds the snapshot's last
 * entry we only fast-forward commit (Ready.snapshot stays null: the node drops the staged data).
 */
export function handleSnapshot(r: RaftCore, m: Of<"snapshot">): void {
  const meta = m.snapshot;
  const resp = { type: "append_resp" as const, from: r.id, to: m.from, term: r.term, reject: false, hintIndex: 0, hintTerm: 0 };
  if (meta.index <= r.log.committed) {
    r.send({ ...resp, index: r.log.committed });
    return;
  }
  if (r.log.matchTerm(meta.index, meta.term)) {
    r.commitTo(meta.index);
    r.send({ ...resp, index: meta.index });
    return;
  }
  r.restoreSnapshot(meta);
  r.send({ ...resp, index: meta.index });
}
