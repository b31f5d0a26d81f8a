import { assert } from "../shared/assert.ts";
import type { RaftNode } from "./api.ts";
import { RaftLog } from "./log.ts";
import { Membership, applyConfChange, validateConfChange } from "./membership.ts";
import { Progress } from "./progress.ts";
import { voteResult } from "./quorum.ts";
import { ReadIndexQueue, type PendingRead } from "./read_index.ts";
import { bcastAppend, bcastHeartbeat, maybeCommit, sendAppend, sendTimeoutNow } from "./replication.ts";
import { stepCandidate } from "./step_candidate.ts";
import { stepFollower } from "./step_follower.ts";
import { stepLeader } from "./step_leader.ts";
import { handleVoteRequest } from "./vote.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Index,
  Message,
  NodeId,
  ProposeResult,
  RaftConfig,
  RaftStatus,
  ReadState,
  Ready,
  Role,
  SnapshotMeta,
  Term,
} from "./types.ts";

/** Cap on committed entries handed out in one Ready (the rest follow in the next one). */
const APPLY_ENTRIES_MAX = 4096;
const APPLY_BYTES_MAX = 64 * 1024 * 1024;

type Refusal = Extract<ProposeResult, { ok: false }>;

/**
 * RaftCore is the pure Raft state machine (etcd-io/raft style). Fields are public for the step_*.ts
 * and replication.ts helpers only; the driver uses the RaftNode methods.
 */
export class RaftCore implements RaftNode {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly log: RaftLog;
  term: Term;
  vote: NodeId;
  leaderId: NodeId = 0;
  role: Role = "follower";
  membership: Membership;
  /** Leader only: one Progress per member, including itself. */
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = 0;
  /** Index of the last conf entry appended; a new change waits until it is committed. */
  pendingConfIndex: Index = 0;
  /** Conf entries in the log above commit, applied in order when they commit. */
  uncommittedConf: Array<{ index: Index; term: Term; change: ConfChange }> = [];
  /** foldedAheadIndex: the last uncommitted conf entry already in effect since start (0: none); see rebuildConf. */
  private foldedAheadIndex: Index = 0;
  readonly reads = new ReadIndexQueue();
  /** A read was queued: one heartbeat round, tagged with the newest read's ctx, goes out at ready(). */
  pendingReadRound = false;
  /** Follower: reads forwarded to the leader, failed (-1) if the term or role changes before the answer. */
  forwardedReads = new Set<string>();
  /** Reads that arrived before the leader committed an entry of its term (§6.4 step 1). */
  readsAwaitingCommit: PendingRead[] = [];
  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  /** A proposal was appended on the leader: appends go out at the next ready() (batching). */
  pendingBcast = false;
  /** takenTo: the last entry handed out by takeCommitted (applied once the outstanding Ready is advanced). */
  private takenTo = 0;
  private prevHardState: HardState;
  private outstanding: Ready | null = null;

  constructor(config: RaftConfig) {
    assert(config.id > 0, "raft: id must be > 0");
    assert(config.heartbeatTicks > 0 && config.electionTicks > config.heartbeatTicks, "raft: electionTicks > heartbeatTicks > 0");
    assert(config.maxInflight > 0 && config.maxEntriesPerMessage > 0 && config.maxBytesPerMessage > 0, "raft: positive limits");
    this.id = config.id;
    this.cfg = config;
    const hs = config.hardState;
    this.log = new RaftLog(config.log, hs.commit, config.applied);
    this.term = hs.term;
    this.vote = hs.vote;
    this.prevHardState = { term: hs.term, vote: hs.vote, commit: this.log.committed };
    this.membership = new Membership(this.rebuildConf());
    this.becomeFollower(this.term, 0);
  }

  /**
   * rebuildConf: the configuration at start is the snapshot's plus EVERY conf entry in the log, committed or not
   * (thesis §4.1: a server uses the latest configuration in its log). The commit index on disk may lag the real
   * one (commit-only changes are not fsync'd), so folding only "committed" entries could restart a node several
   * changes behind, e.g. a killed bootstrap leader back in its one-voter configuration, electing itself alone
   * beside the real cluster. Uncommitted entries are still tracked: applying them again at commit is a no-op
   * (applyConfChange ignores changes that no longer validate), and a truncation of one re-folds (appendFromLeader).
   */
  private rebuildConf(): ConfState {
    const { conf, uncommitted } = this.confUpTo(this.log.lastIndex());
    this.uncommittedConf = uncommitted;
    this.foldedAheadIndex = uncommitted.at(-1)?.index ?? 0;
    return conf;
  }

  /** confUpTo folds the snapshot's conf and every conf entry up to `last`; lists those beyond the commit. */
  private confUpTo(last: Index): { conf: ConfState; uncommitted: Array<{ index: Index; term: Term; change: ConfChange }> } {
    let conf = this.log.snapshotMeta().conf;
    const uncommitted: Array<{ index: Index; term: Term; change: ConfChange }> = [];
    for (let lo = this.log.firstIndex(); lo <= last; ) {
      const batch = this.log.slice(lo, last + 1, APPLY_BYTES_MAX);
      assert(batch.length > 0, "raft: log slice makes progress");
      for (const e of batch) {
        if (e.kind !== "conf") continue;
        conf = applyConfChange(conf, e.change);
        if (e.index > this.log.committed) uncommitted.push({ index: e.index, term: e.term, change: e.change });
      }
      lo += batch.length;
    }
    return { conf, uncommitted };
  }

  // ---- role transitions ----

  becomeFollower(term: Term, leaderId: NodeId): void {
    const wasLeader = this.role === "leader";
    if (term !== this.term) {
      assert(term > this.term, `raft: term ${this.term} -> ${term} goes backwards`);
      this.term = term;
      this.vote = 0;
    }
    this.reset();
    this.role = "follower";
    this.leaderId = leaderId;
    if (wasLeader) this.failReads();
  }

  becomePreCandidate(): void {
    assert(this.role !== "leader", "raft: invalid transition leader -> pre_candidate");
    this.reset();
    this.role = "pre_candidate";
    this.leaderId = 0;
  }

  becomeCandidate(): void {
    assert(this.role !== "leader", "raft: invalid transition leader -> candidate");
    this.term += 1;
    this.vote = this.id;
    this.reset();
    this.role = "candidate";
    this.leaderId = 0;
  }

  becomeLeader(): void {
    assert(this.role === "candidate", `raft: invalid transition ${this.role} -> leader`);
    this.reset();
    this.role = "leader";
    this.leaderId = this.id;
    const next = this.log.lastIndex() + 1;
    for (const id of this.membership.ids()) {
      const pr = new Progress(next, this.cfg.maxInflight);
      // Our own match counts only what is durable; the rest counts on advance().
      if (id === this.id) pr.match = this.log.lastStableIndex();
      pr.recentActive = id === this.id;
      this.progress.set(id, pr);
    }
    // An uncommitted conf entry from an earlier term may sit in the log: wait for the noop to commit.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendLocal([{ kind: "noop", index: next, term: this.term }]);
    bcastAppend(this);
    this.pendingBcast = false;
  }

  private reset(): void {
    this.votes.clear();
    this.progress.clear();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.rand.int(this.cfg.electionTicks);
    this.leadTransferee = 0;
    this.pendingBcast = false;
    this.pendingReadRound = false;
    for (const ctx of this.forwardedReads) this.readStates.push({ ctx, index: -1 });
    this.forwardedReads.clear();
  }

  /** promotable: only voters of the configuration in effect may campaign. */
  promotable(): boolean {
    return this.membership.isVoter(this.id);
  }

  // ---- elections ----

  /** hup starts an election (pre-vote first unless transfer forces a real one). */
  hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.cfg.preVote && !transfer) this.campaign_("pre_vote", false);
    else this.campaign_("vote", transfer);
  }

  private campaign_(kind: "pre_vote" | "vote", transfer: boolean): void {
    if (kind === "pre_vote") this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = kind === "pre_vote" ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.poll()) return;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.membership.voters) {
      if (id === this.id) continue;
      if (kind === "pre_vote") {
        this.send({ type: "pre_vote", from: this.id, to: id, term: voteTerm, lastIndex, lastTerm });
      } else {
        // Vote requests wait for our own term/vote to be durable: we count our own vote at once.
        this.msgsAfterPersist.push({ type: "vote", from: this.id, to: id, term: voteTerm, lastIndex, lastTerm, transfer });
      }
    }
  }

  /** poll evaluates the votes; true when the election ended (won or lost). */
  poll(): boolean {
    const result = voteResult(this.membership.voters, this.votes);
    if (result === "won") {
      if (this.role === "pre_candidate") this.campaign_("vote", false);
      else this.becomeLeader();
      return true;
    }
    if (result === "lost") {
      this.becomeFollower(this.term, 0);
      return true;
    }
    return false;
  }

  // ---- log and commit ----

  /** appendLocal appends leader-created entries (they become durable, and count for us, on advance). */
  appendLocal(entries: Entry[]): void {
    for (const e of entries) {
      assert(e.term === this.term, "raft: leader appends entries of its own term");
      if (e.kind === "conf") {
        this.uncommittedConf.push({ index: e.index, term: e.term, change: e.change });
        this.pendingConfIndex = e.index;
      }
    }
    this.log.append(entries);
    this.pendingBcast = true;
  }

  /** appendFromLeader appends entries received from the leader, tracking conf entries. */
  appendFromLeader(entries: Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    // Acks still waiting for persistence that cover the replaced suffix would promise entries that will
    // never be durable here (they were replaced before any Ready took them): drop them. Found by the
    // simulator (seed 52819, five-nodes-chaos): an old leader could count a copy that does not exist.
    if (first.index <= this.log.lastIndex()) this.dropAcksFrom(first.index);
    this.uncommittedConf = this.uncommittedConf.filter((c) => c.index < first.index);
    if (this.foldedAheadIndex >= first.index) {
      // A conf entry that took effect at start is being replaced: the configuration is the log's up to the cut.
      const { conf, uncommitted } = this.confUpTo(first.index - 1);
      this.membership = new Membership(conf);
      this.uncommittedConf = uncommitted;
      this.foldedAheadIndex = uncommitted.at(-1)?.index ?? 0;
    }
    for (const e of entries) {
      if (e.kind === "conf") this.uncommittedConf.push({ index: e.index, term: e.term, change: e.change });
    }
    this.log.append(entries);
  }

  /** dropAcksFrom removes queued (not yet handed out) append acks for index `from` or beyond. */
  private dropAcksFrom(from: Index): void {
    this.msgsAfterPersist = this.msgsAfterPersist.filter((m) => m.type !== "append_resp" || m.reject || m.index < from);
  }

  /** commitTo advances commit and applies conf entries that just committed (etcd: effect on commit). */
  commitTo(index: Index): boolean {
    const old = this.log.committed;
    if (!this.log.commitTo(index)) return false;
    assert(this.log.committed > old, "raft: commit only moves forward");
    let changed = false;
    while (this.uncommittedConf.length > 0 && (this.uncommittedConf[0]?.index ?? Infinity) <= index) {
      const c = this.uncommittedConf.shift();
      assert(c !== undefined && this.log.term(c.index) === c.term, "raft: committed conf entry matches the log");
      this.membership = new Membership(applyConfChange(this.membership.conf, c.change));
      changed = true;
    }
    if (changed) this.onConfChanged();
    if (this.role === "leader") this.onLeaderCommit();
    return true;
  }

  /** restoreSnapshot replaces log and configuration with a received snapshot (follower only). */
  restoreSnapshot(meta: SnapshotMeta): void {
    assert(this.role === "follower", "raft: only followers restore snapshots");
    this.log.restore(meta);
    // The log before the snapshot is gone too: no queued ack may vouch for any of it.
    this.dropAcksFrom(0);
    this.uncommittedConf = [];
    this.foldedAheadIndex = 0;
    this.membership = new Membership(meta.conf);
  }

  private onConfChanged(): void {
    if (this.role !== "leader") return;
    const next = this.log.lastIndex() + 1;
    for (const id of this.membership.ids()) {
      if (!this.progress.has(id)) {
        const pr = new Progress(next, this.cfg.maxInflight);
        pr.recentActive = true;
        this.progress.set(id, pr);
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!this.membership.has(id) && id !== this.id) this.progress.delete(id);
    }
    if (this.leadTransferee !== 0 && !this.membership.isVoter(this.leadTransferee)) this.leadTransferee = 0;
    if (!this.membership.isVoter(this.id)) {
      // A leader that removed (or demoted) itself tells the others about the commit, then steps down.
      bcastAppend(this);
      this.becomeFollower(this.term, 0);
      return;
    }
    // A smaller quorum may commit more.
    maybeCommit(this);
  }

  /** onLeaderCommit: reads queued until the leader committed in its term may proceed now. */
  private onLeaderCommit(): void {
    if (this.readsAwaitingCommit.length === 0 || !this.committedInTerm()) return;
    const waiting = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const r of waiting) this.leaderRead(r.ctx, r.from);
  }

  committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  // ---- reads ----

  /** leaderRead serves a ReadIndex request on the leader (thesis §6.4). from 0 = local. */
  leaderRead(ctx: string, from: NodeId): void {
    assert(this.role === "leader", "raft: leaderRead on a non-leader");
    if (!this.committedInTerm()) {
      this.readsAwaitingCommit.push({ ctx, from, index: 0, acks: new Set() });
      return;
    }
    const read: PendingRead = { ctx, from, index: this.log.committed, acks: new Set([this.id]) };
    if (this.membership.voters.length === 1 || this.cfg.faults?.readIndexWithoutQuorum) {
      this.answerRead(read, read.index);
      return;
    }
    // Reads batch: every read queued before the round's heartbeats go out (at ready()) shares the round.
    this.reads.add(read);
    this.pendingReadRound = true;
  }

  answerRead(read: PendingRead, index: Index): void {
    if (read.from === 0 || read.from === this.id) this.readStates.push({ ctx: read.ctx, index });
    else this.send({ type: "read_index_resp", from: this.id, to: read.from, term: this.term, ctx: read.ctx, index });
  }

  /** failReads answers every pending read with -1 (leadership lost). */
  failReads(): void {
    for (const r of this.reads.drain()) this.answerRead(r, -1);
    for (const r of this.readsAwaitingCommit) this.answerRead(r, -1);
    this.readsAwaitingCommit = [];
  }

  // ---- output ----

  send(m: Message): void {
    assert(m.to !== this.id, "raft: never sends to itself");
    if (m.type === "append_resp" || m.type === "vote_resp") this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  // ---- RaftNode ----

  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, 0);
        return;
      }
      for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
      this.leadTransferee = 0; // a transfer that did not finish within an election timeout is aborted
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      // Pending reads ride on the periodic heartbeat too, so a lost round is retried.
      bcastHeartbeat(this, this.reads.lastCtx());
    }
  }

  quorumActive(): boolean {
    if (this.role !== "leader") return false;
    const active = new Set<NodeId>();
    for (const [id, pr] of this.progress) if (pr.recentActive || id === this.id) active.add(id);
    return voteResult(this.membership.voters, new Map([...active].map((id) => [id, true]))) === "won";
  }

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id || m.from <= 0) return; // foreign or forged: ignore
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "pre_vote") {
        const force = m.type === "vote" && m.transfer;
        const inLease = this.cfg.checkQuorum && this.leaderId !== 0 && this.electionElapsed < this.cfg.electionTicks;
        if (!force && inLease) return; // a live leader exists: ignore the disruptive candidate (§4.2.3)
      }
      if (m.type === "pre_vote") {
        // Never change our term for a pre-vote.
      } else if (m.type === "pre_vote_resp" && !m.reject) {
        // A granted pre-vote carries the future term; the pre-candidate counts it below.
      } else {
        const leader = m.type === "append" || m.type === "heartbeat" || m.type === "snapshot" ? m.from : 0;
        this.becomeFollower(m.term, leader);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === "append" || m.type === "heartbeat")) {
        // A stale leader (maybe partitioned away) learns our term and steps down.
        this.send({ type: "append_resp", from: this.id, to: m.from, term: this.term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === "pre_vote") {
        this.send({ type: "pre_vote_resp", from: this.id, to: m.from, term: this.term, reject: true });
      } else if (m.type === "read_index") {
        this.send({ type: "read_index_resp", from: this.id, to: m.from, term: this.term, ctx: m.ctx, index: -1 });
      }
      return;
    }
    if (m.type === "vote" || m.type === "pre_vote") {
      handleVoteRequest(this, m);
      return;
    }
    if (this.role === "leader") stepLeader(this, m);
    else if (this.role === "follower") stepFollower(this, m);
    else stepCandidate(this, m);
  }

  private refuse(error: Refusal["error"]): Refusal {
    return { ok: false, error, leaderId: this.leaderId };
  }

  private checkPropose(): Refusal | null {
    if (this.role !== "leader") return this.refuse(this.leaderId === 0 ? "no_leader" : "not_leader");
    if (this.leadTransferee !== 0) return this.refuse("transfer_in_progress");
    if (this.log.lastIndex() - this.log.committed >= this.cfg.maxUncommittedEntries) return this.refuse("too_many_uncommitted");
    return null;
  }

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.checkPropose();
    if (refusal) return refusal;
    const index = this.log.lastIndex() + 1;
    this.appendLocal([{ kind: "normal", index, term: this.term, data }]);
    return { ok: true, index, term: this.term };
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.checkPropose();
    if (refusal) return refusal;
    if (this.pendingConfIndex > this.log.committed) return this.refuse("change_in_progress");
    if (validateConfChange(this.membership.conf, change) !== null) return this.refuse("bad_change");
    const index = this.log.lastIndex() + 1;
    this.appendLocal([{ kind: "conf", index, term: this.term, change: { ...change } }]);
    return { ok: true, index, term: this.term };
  }

  readIndex(ctx: string): { ok: true } | { ok: false; error: "no_leader"; leaderId: NodeId } {
    assert(ctx !== "", "raft: readIndex ctx must be non-empty");
    if (this.role === "leader") {
      this.leaderRead(ctx, 0);
      return { ok: true };
    }
    if (this.leaderId === 0) return { ok: false, error: "no_leader", leaderId: 0 };
    this.send({ type: "read_index", from: this.id, to: this.leaderId, term: this.term, ctx });
    this.forwardedReads.add(ctx);
    return { ok: true };
  }

  transferLeadership(to: NodeId): { ok: true } | { ok: false; error: "not_leader" | "unknown_member" | "transfer_in_progress"; leaderId: NodeId } {
    if (this.role !== "leader") return { ok: false, error: "not_leader", leaderId: this.leaderId };
    if (!this.membership.isVoter(to)) return { ok: false, error: "unknown_member", leaderId: this.leaderId };
    if (to === this.id) return { ok: true };
    if (this.leadTransferee !== 0) {
      if (this.leadTransferee === to) return { ok: true };
      return { ok: false, error: "transfer_in_progress", leaderId: this.leaderId };
    }
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer is aborted after one election timeout
    const pr = this.progress.get(to);
    assert(pr !== undefined, "raft: a voter has progress on the leader");
    if (pr.match === this.log.lastIndex()) sendTimeoutNow(this, to);
    else sendAppend(this, to, true);
    return { ok: true };
  }

  campaign(): void {
    this.hup(false);
  }

  reportUnreachable(id: NodeId): void {
    const pr = this.progress.get(id);
    if (this.role !== "leader" || !pr) return;
    if (pr.state === "replicate") pr.becomeProbe();
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.progress.get(id);
    if (this.role !== "leader" || !pr || pr.state !== "snapshot") return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for a heartbeat response before probing again (the follower may still be installing).
    pr.probeSent = true;
  }

  hasReady(): boolean {
    if (this.outstanding) return false;
    const hs = this.hardState();
    const p = this.prevHardState;
    return (
      this.pendingBcast ||
      this.pendingReadRound ||
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstable() ||
      this.log.hasSnapshot() ||
      this.log.hasCommittedToApply() ||
      hs.term !== p.term ||
      hs.vote !== p.vote ||
      hs.commit !== p.commit
    );
  }

  ready(): Ready {
    assert(this.outstanding === null, "raft: ready() called again before advance()");
    if (this.pendingBcast && this.role === "leader") bcastAppend(this);
    this.pendingBcast = false;
    if (this.pendingReadRound && this.role === "leader") bcastHeartbeat(this, this.reads.lastCtx());
    this.pendingReadRound = false;
    const hs = this.hardState();
    const p = this.prevHardState;
    const hardChanged = hs.term !== p.term || hs.vote !== p.vote || hs.commit !== p.commit;
    const snapshot = this.log.takeSnapshot();
    const entries = this.log.takeUnstable();
    const committed = this.log.committedToApply(APPLY_ENTRIES_MAX, APPLY_BYTES_MAX);
    const last = committed[committed.length - 1];
    if (last) this.log.applying = last.index;
    // A term or vote not yet durable: every message of this batch speaks for it (a sole voter that just elected
    // itself appends to its learners in the new term), so all of them wait for the write (etcd's msgsAfterAppend).
    // With an unchanged term only the leader's appends go out beside its own write (thesis §10.2.1).
    const termOrVoteChanged = hs.term !== p.term || hs.vote !== p.vote;
    const rd: Ready = {
      hardState: hardChanged ? hs : null,
      entries,
      snapshot,
      committed,
      messages: termOrVoteChanged ? [] : this.msgs,
      messagesAfterPersist: termOrVoteChanged ? [...this.msgs, ...this.msgsAfterPersist] : this.msgsAfterPersist,
      readStates: this.readStates,
      mustSync: entries.length > 0 || snapshot !== null || termOrVoteChanged,
    };
    this.msgs = [];
    this.msgsAfterPersist = [];
    this.readStates = [];
    this.prevHardState = hs;
    this.outstanding = rd;
    return rd;
  }

  /**
   * takeCommitted hands out, while a Ready without a snapshot is outstanding, entries committed since it was
   * taken (up to the first conf entry): the driver applies them at once instead of after its own write (a
   * leader whose followers both acked need not wait for its own fsync). advance() counts them as applied.
   */
  takeCommitted(): Entry[] {
    // A snapshot restored since (or handed out with) the outstanding Ready replaces the state machine first:
    // entries after it may only be applied once the driver installed it, i.e. in a later Ready.
    if (this.outstanding === null || this.log.unstableSnapshot !== null) return [];
    const entries = this.log.committedToApply(APPLY_ENTRIES_MAX, APPLY_BYTES_MAX);
    const conf = entries.findIndex((e) => e.kind === "conf");
    const taken = conf < 0 ? entries : entries.slice(0, conf);
    const last = taken[taken.length - 1];
    if (last) {
      this.log.applying = last.index;
      this.takenTo = last.index;
    }
    return taken;
  }

  advance(rd: Ready): void {
    assert(this.outstanding === rd, "raft: advance() with a Ready that is not the outstanding one");
    this.outstanding = null;
    if (rd.snapshot) this.log.stableSnapTo(rd.snapshot);
    const last = rd.entries[rd.entries.length - 1];
    if (last) this.log.stableTo(last.index, last.term);
    const applied = rd.committed[rd.committed.length - 1]?.index ?? (rd.snapshot ? rd.snapshot.index : this.log.applied);
    this.log.applied = Math.max(this.log.applied, applied, this.takenTo);
    assert(this.log.applied <= this.log.committed, "raft: applied <= committed");
    if (this.role === "leader" && last && this.log.term(last.index) === last.term) {
      // Our own entries count for commit only once durable (thesis §10.2.1).
      const self = this.progress.get(this.id);
      if (self && self.maybeUpdate(last.index)) maybeCommit(this);
    }
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotMeta().index,
      members: this.membership.conf.members.map((m) => ({ ...m, matchIndex: this.role === "leader" ? (this.progress.get(m.id)?.match ?? 0) : 0 })),
      leadTransferee: this.leadTransferee,
      quorumActive: this.quorumActive(),
    };
  }
}
