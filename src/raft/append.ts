import { assert } from "../shared/assert.ts";
import type { CoreState } from "./core_state.ts";
import { confUpTo } from "./log_conf.ts";
import { Membership } from "./membership.ts";
import type { Entry, Index, Message, SnapshotMeta } from "./types.ts";

type Of<T extends Message["type"]> = Extract<Message, { type: T }>;

// ---- the follower's side: entries, heartbeats and snapshots from the leader of our term ----

/** handleAppend appends what the leader sent after a matching (prevIndex, prevTerm), or rejects with a hint. */
export function handleAppend(r: CoreState, m: Of<"append">): void {
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
      appendFromLeader(r, m.entries.slice(conflict - m.prevIndex - 1));
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

export function handleHeartbeat(r: CoreState, m: Of<"heartbeat">): void {
  r.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send({ type: "heartbeat_resp", from: r.id, to: m.from, term: r.term, ctx: m.ctx });
}

/**
 * handleSnapshot installs a snapshot beyond our commit. When our log already holds the snapshot's last
 * entry we only fast-forward commit (Ready.snapshot stays null: the node drops the staged data).
 */
export function handleSnapshot(r: CoreState, m: Of<"snapshot">): void {
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
  restoreSnapshot(r, meta);
  r.send({ ...resp, index: meta.index });
}

// ---- changing the log ----

/** appendLocal appends leader-created entries (they become durable, and count for us, on advance). */
export function appendLocal(r: CoreState, entries: Entry[]): void {
  for (const e of entries) {
    assert(e.term === r.term, "raft: leader appends entries of its own term");
    if (e.kind === "conf") {
      r.uncommittedConf.push({ index: e.index, term: e.term, change: e.change });
      r.pendingConfIndex = e.index;
    }
  }
  r.log.append(entries);
  r.pendingBcast = true;
}

/** appendFromLeader appends entries received from the leader, tracking conf entries. */
export function appendFromLeader(r: CoreState, entries: Entry[]): void {
  const first = entries[0];
  if (first === undefined) return;
  // Acks still waiting for persistence that cover the replaced suffix would promise entries that will
  // never be durable here (they were replaced before any Ready took them): drop them. Found by the
  // simulator (seed 52819, five-nodes-chaos): an old leader could count a copy that does not exist.
  if (first.index <= r.log.lastIndex()) dropAcksFrom(r, first.index);
  // Usually empty: no new array and closure per append then.
  if (r.uncommittedConf.length > 0) r.uncommittedConf = r.uncommittedConf.filter((c) => c.index < first.index);
  if (r.foldedAheadIndex >= first.index) {
    // A conf entry that took effect at start is being replaced: the configuration is the log's up to the cut.
    const { conf, uncommitted } = confUpTo(r.log, first.index - 1);
    r.membership = new Membership(conf);
    r.uncommittedConf = uncommitted;
    r.foldedAheadIndex = uncommitted.at(-1)?.index ?? 0;
  }
  for (const e of entries) {
    if (e.kind === "conf") r.uncommittedConf.push({ index: e.index, term: e.term, change: e.change });
  }
  r.log.append(entries);
}

/** restoreSnapshot replaces log and configuration with a received snapshot (follower only). */
export function restoreSnapshot(r: CoreState, meta: SnapshotMeta): void {
  assert(r.role === "follower", "raft: only followers restore snapshots");
  r.log.restore(meta);
  // The log before the snapshot is gone too: no queued ack may vouch for any of it.
  dropAcksFrom(r, 0);
  r.uncommittedConf = [];
  r.foldedAheadIndex = 0;
  r.membership = new Membership(meta.conf);
}

/** dropAcksFrom removes queued (not yet handed out) append acks for index `from` or beyond. */
function dropAcksFrom(r: CoreState, from: Index): void {
  r.msgsAfterPersist = r.msgsAfterPersist.filter((m) => m.type !== "append_resp" || m.reject || m.index < from);
}
