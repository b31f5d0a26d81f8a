import { assert } from "../shared/assert.ts";
import type { RaftNode } from "./api.ts";
import { appendLocal } from "./append.ts";
import { applyCommittedConf } from "./conf_commit.ts";
import type { CoreState } from "./core_state.ts";
import { failReads, leaderRead, onLeaderCommit, sendReadRound } from "./leader_read.ts";
import { RaftLog } from "./log.ts";
import { type UncommittedConf, confUpTo } from "./log_conf.ts";
import { Membership, validateConfChange } from "./membership.ts";
import { Progress } from "./progress.ts";
import { type PendingRead, ReadIndexQueue } from "./read_index.ts";
import { bcastAppend, bcastHeartbeat, maybeCommit, quorumActive, sendAppend, sendTimeoutNow } from "./replication.ts";
import { stepCandidate } from "./step_candidate.ts";
import { stepFollower } from "./step_follower.ts";
import { stepLeader } from "./step_leader.ts";
import { handleVoteRequest, hup } from "./vote.ts";
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
import type { SoftState } from "./soft_state.ts";

/** Cap on committed entries handed out in one Ready (the rest follow in the next one). */
const apply_entries_max = 4096;
const apply_bytes_max = 64 * 1024 * 1024;

type Refusal = Extract<ProposeResult, { ok: false }>;

/**
 * RaftCore is the pure Raft state machine (etcd-io/raft style): the role transitions, commit, tick, step
 * dispatch and the Ready cycle; the handlers live in step_*.ts, vote.ts, append.ts, replication.ts,
 * conf_commit.ts and leader_read.ts, which work on its CoreState. Its fields are that CoreState: drivers use the RaftNode
 * methods and softState(), never the fields.
 */
export class RaftCore implements RaftNode, CoreState {
  // The CoreState fields (documented in core_state.ts).
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly log: RaftLog;
  term: Term;
  vote: NodeId;
  leaderId: NodeId = 0;
  role: Role = "follower";
  membership: Membership;
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();
  electionElapsed = 0;
  leadTransferee: NodeId = 0;
  pendingConfIndex: Index = 0;
  uncommittedConf: UncommittedConf[] = [];
  foldedAheadIndex: Index = 0;
  readonly reads = new ReadIndexQueue();
  pendingReadRound = false;
  readRounds = 0;
  readonly forwardedReads = new Set<string>();
  readsAwaitingCommit: PendingRead[] = [];
  /** msgs: messages that may leave before this batch's write (see Ready.messages). */
  private msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  pendingBcast = false;
  // RaftCore's own.
  private heartbeatElapsed = 0;
  /** randomizedElectionTimeout: ticks without a leader before campaigning, in [electionTicks, 2*electionTicks). */
  private randomizedElectionTimeout = 0;
  /** takenTo: the last entry handed out by takeCommitted (applied once the outstanding Ready is advanced). */
  private takenTo = 0;
  private prevHardState: HardState;
  private outstanding: Ready | null = null;
  /** outstandingHeld: the outstanding Ready changed the term or vote, so all its messages wait for its write. */
  private outstandingHeld = false;

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
    const { conf, uncommitted } = confUpTo(this.log, this.log.lastIndex());
    this.uncommittedConf = uncommitted;
    this.foldedAheadIndex = uncommitted.at(-1)?.index ?? 0;
    return conf;
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
    if (wasLeader) failReads(this);
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
    appendLocal(this, [{ kind: "noop", index: next, term: this.term }]);
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
    this.readRounds = 0;
    for (const ctx of this.forwardedReads) this.readStates.push({ ctx, index: -1 });
    this.forwardedReads.clear();
  }

  /** promotable: only voters of the configuration in effect may campaign. */
  promotable(): boolean {
    return this.membership.isVoter(this.id);
  }

  // ---- log and commit ----

  /** commitTo advances commit and applies conf entries that just committed (etcd: effect on commit). */
  commitTo(index: Index): boolean {
    const old = this.log.committed;
    if (!this.log.commitTo(index)) return false;
    assert(this.log.committed > old, "raft: commit only moves forward");
    applyCommittedConf(this, index);
    if (this.role === "leader") onLeaderCommit(this);
    return true;
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
      hup(this, false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !quorumActive(this)) {
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
    appendLocal(this, [{ kind: "normal", index, term: this.term, data }]);
    return { ok: true, index, term: this.term };
  }

  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.checkPropose();
    if (refusal) return refusal;
    if (this.pendingConfIndex > this.log.committed) return this.refuse("change_in_progress");
    if (validateConfChange(this.membership.conf, change) !== null) return this.refuse("bad_change");
    const index = this.log.lastIndex() + 1;
    appendLocal(this, [{ kind: "conf", index, term: this.term, change: { ...change } }]);
    return { ok: true, index, term: this.term };
  }

  readIndex(ctx: string): { ok: true } | { ok: false; error: "no_leader"; leaderId: NodeId } {
    assert(ctx !== "", "raft: readIndex ctx must be non-empty");
    if (this.role === "leader") {
      leaderRead(this, ctx, 0);
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
    hup(this, false);
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
    if (this.pendingReadRound && this.role === "leader") sendReadRound(this, this.reads.lastCtx());
    this.pendingReadRound = false;
    const hs = this.hardState();
    const p = this.prevHardState;
    const hardChanged = hs.term !== p.term || hs.vote !== p.vote || hs.commit !== p.commit;
    const snapshot = this.log.takeSnapshot();
    const entries = this.log.takeUnstable();
    const committed = this.log.committedToApply(apply_entries_max, apply_bytes_max);
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
    this.outstandingHeld = termOrVoteChanged;
    return rd;
  }

  /**
   * takeMessages hands out, while a Ready's write runs, what would go into the next Ready's `messages`: the
   * appends of entries proposed since (pendingBcast), those acks asked for, heartbeats, read answers. A leader
   * whose fsync takes a millisecond thus ships new entries to its followers at once instead of after its own
   * write (thesis §10.2.1: the leader's write runs in parallel with replication; it still counts for commit only
   * once durable, on advance). Nothing while the outstanding Ready or a later step changed the term or vote:
   * those messages speak for a term or vote not yet durable and wait for it (see ready()).
   */
  takeMessages(): Message[] {
    if (this.outstanding === null || this.outstandingHeld) return [];
    if (this.term !== this.prevHardState.term || this.vote !== this.prevHardState.vote) return [];
    if (this.pendingBcast && this.role === "leader") {
      // Only appends that carry entries leave early (each carries the commit index too). A commit-only append
      // waits for the next Ready, where it usually rides with the next entries: early, it would cost every
      // follower one more step, Ready and ack per commit.
      let told = true;
      for (const id of this.progress.keys()) if (id !== this.id && !sendAppend(this, id, false)) told = false;
      this.pendingBcast = !told;
    }
    if (this.msgs.length === 0) return [];
    const out = this.msgs;
    this.msgs = [];
    return out;
  }

  /**
   * takeCommitted hands out, while a Ready is outstanding and no snapshot waits to be installed, entries committed
   * since the Ready was taken (up to the first conf entry): the driver applies them at once instead of after its own write (a
   * leader whose followers both acked need not wait for its own fsync). advance() counts them as applied.
   */
  takeCommitted(): Entry[] {
    // A snapshot restored since (or handed out with) the outstanding Ready replaces the state machine first:
    // entries after it may only be applied once the driver installed it, i.e. in a later Ready.
    if (this.outstanding === null || this.log.unstableSnapshot !== null) return [];
    const entries = this.log.committedToApply(apply_entries_max, apply_bytes_max);
    // A loop, not findIndex: this runs for every message stepped while a write is outstanding (no closure each time).
    let conf = 0;
    while (conf < entries.length && entries[conf]!.kind !== "conf") conf++;
    const taken = conf === entries.length ? entries : entries.slice(0, conf);
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

  /** softState: role, leader, term and configuration, read-only (the driver must not write the fields). */
  softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId, term: this.term, membership: this.membership };
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
      quorumActive: quorumActive(this),
    };
  }
}
