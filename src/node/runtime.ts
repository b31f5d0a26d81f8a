import type { ConsolaInstance } from "consola";
import type { KvStateMachine } from "../kv/index.ts";
import { RaftCore, applyConfChange, createRand } from "../raft/index.ts";
import type { ConfChange, ConfState, Entry, Member, Message, NodeId, RaftConfig, Ready, Role, SnapshotMeta } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type { Storage } from "../storage/types.ts";
import type { Transport, TransportHandlers } from "../transport/types.ts";
import type { MemberJson, StatusJson } from "./api.ts";
import { NodeMetrics } from "./metrics.ts";
import { Proposals } from "./proposals.ts";
import { Reads } from "./reads.ts";
import { Snapshotter } from "./snapshotter.ts";
import type { NodeOptions } from "./types.ts";

export interface RuntimeOptions {
  options: NodeOptions;
  storage: Storage;
  kv: KvStateMachine;
  log: ConsolaInstance;
}

interface TransferWaiter {
  target: NodeId;
  deadline: number;
  resolve(): void;
  reject(error: QklzlError): void;
}

/** A voter within this many entries of the leader's commit index may take over leadership on a stop. */
const handover_lag_entries_max = 100;

/**
 * NodeRuntime drives the Raft core with a real clock, the store and the transport (the Ready contract of
 * src/raft/types.ts), applies committed entries to the map and resolves the requests waiting on them.
 * It is the only place where time, disk and sockets meet the core.
 */
export class NodeRuntime {
  readonly options: NodeOptions;
  readonly storage: Storage;
  readonly kv: KvStateMachine;
  readonly log: ConsolaInstance;
  readonly metrics = new NodeMetrics();
  readonly proposals: Proposals;
  readonly reads: Reads;
  readonly snapshotter: Snapshotter;
  core!: RaftCore;
  transport!: Transport;
  raftAddr = "";
  httpAddr = "";
  /** appliedConf/appliedTerm describe the last applied entry: what a snapshot taken now covers. */
  appliedConf: ConfState;
  appliedTerm: number;
  /** stopping: no new requests; closed: the loop exits. */
  stopping = false;
  private closed = false;
  private started = false;
  private wakeResolve: (() => void) | null = null;
  private wakePending = false;
  /** applyWhileSaving: the loop awaits the outstanding Ready's write; committed entries may be applied meanwhile. */
  private applyWhileSaving = false;
  private loopDone: Promise<void> = Promise.resolve();
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  /** heardAt: when each peer last sent us anything (the runtime's own view of "quorum reachable"). */
  private readonly heardAt = new Map<NodeId, number>();
  /** peers: the transport's address table as we set it. */
  private readonly peers = new Map<NodeId, string>();
  private membersKey = "";
  private seenRole: Role = "follower";
  private seenLeader: NodeId = 0;
  private transferWaiters: TransferWaiter[] = [];
  private removed = false;
  lastLeaderAt = 0;
  /** replayedUpTo: the commit index at start; applying up to it replays our own history. */
  private replayedUpTo = 0;
  /** onTick lets the membership tasks run on the heartbeat clock. */
  onTick: () => void = () => {};
  /** onRemoved: this node applied its own removal from the configuration. */
  onRemoved: () => void = () => {};
  /** onFatal: the loop failed (storage error, broken invariant); the node must stop. */
  onFatal: (error: unknown) => void = () => {};
  /** onUnknownPeer: a message came from a node we have no address for. */
  onUnknownPeer: (id: NodeId) => void = () => {};
  /** extraStatus / extraMetricLines: what other parts (cluster_health.ts) add after the original fields. */
  extraStatus: () => Partial<StatusJson> = () => ({});
  extraMetricLines: () => string[] = () => [];

  constructor(parts: RuntimeOptions) {
    this.options = parts.options;
    this.storage = parts.storage;
    this.kv = parts.kv;
    this.log = parts.log;
    const snap = this.storage.log.snapshotMeta();
    this.appliedConf = snap.conf;
    this.appliedTerm = snap.term;
    assert(this.kv.appliedIndex === snap.index, `runtime: map at ${this.kv.appliedIndex}, snapshot at ${snap.index}`);
    this.proposals = new Proposals(this.options.requestTimeoutMs);
    this.reads = new Reads(
      {
        readIndex: (ctx) => {
          const result = this.core.readIndex(ctx);
          this.wake();
          return result.ok ? null : this.noLeaderError();
        },
        applied: () => this.kv.appliedIndex,
        get: (key) => this.kv.get(key),
        roundFailed: () => this.notLeaderError("leadership changed during the read; retry"),
      },
      {
        timeoutMs: this.options.requestTimeoutMs,
        roundStaleMs: Math.max(this.options.electionMs, 3 * this.options.heartbeatMs),
        prefix: `r${this.options.id}-${Date.now().toString(36)}-`,
      },
    );
    this.snapshotter = new Snapshotter({
      storage: this.storage,
      kv: this.kv,
      log: this.log,
      metrics: this.metrics,
      snapshotEntries: this.options.snapshotEntries,
      trailingEntries: this.options.trailingEntries,
      appliedMeta: () => ({ index: this.kv.appliedIndex, term: this.appliedTerm, conf: this.appliedConf }),
      core: () => this.core,
      transport: () => this.transport,
      wake: () => this.wake(),
      installed: (meta) => this.afterInstall(meta),
    });
  }

  /** transportHandlers: inbound traffic goes straight into the core (dropped until it exists). */
  readonly transportHandlers: TransportHandlers = {
    onMessage: (m) => {
      if (!this.started || this.closed) return;
      this.heardAt.set(m.from, performance.now());
      if (!this.peers.has(m.from)) this.onUnknownPeer(m.from);
      this.core.step(m);
      if (this.applyWhileSaving) this.applyTaken();
      this.wake();
    },
    onSnapshot: async (m, data) => {
      if (!this.started || this.closed) throw new Error("node is not running");
      this.heardAt.set(m.from, performance.now());
      this.snapshotter.receive(m, data);
    },
    onUnreachable: (id) => {
      if (!this.started || this.closed) return;
      this.heardAt.delete(id); // a refused or lost connection: do not count this peer toward the quorum
      this.core.reportUnreachable(id);
      this.wake();
    },
  };

  /** isKnownPeer: a member, or anyone while we know no configuration (a joining node); see onUnknownPeer. */
  isKnownPeer(id: NodeId): boolean {
    return id !== this.options.id;
  }

  /** start builds the core from what storage holds and starts the clock and the loop. */
  start(transport: Transport, addrs: { raftAddr: string; httpAddr: string }): void {
    assert(!this.started, "runtime: started twice");
    this.transport = transport;
    this.raftAddr = addrs.raftAddr;
    this.httpAddr = addrs.httpAddr;
    const log = this.storage.log;
    const hs = log.hardState();
    const snapIndex = log.snapshotMeta().index;
    const config: RaftConfig = {
      id: this.options.id,
      log,
      // The loaded snapshot is committed whatever the stored commit says (commit-only updates are written lazily).
      hardState: { ...hs, commit: Math.max(hs.commit, snapIndex) },
      applied: this.kv.appliedIndex,
      electionTicks: Math.max(2, Math.round(this.options.electionMs / this.options.heartbeatMs)),
      heartbeatTicks: 1,
      rand: createRand(crypto.getRandomValues(new Uint32Array(1))[0]!),
      preVote: true,
      checkQuorum: true,
      maxInflight: limits.inflight_messages_max,
      maxBytesPerMessage: limits.append_bytes_max,
      maxEntriesPerMessage: limits.append_entries_max,
      maxUncommittedEntries: limits.uncommitted_entries_max,
    };
    this.core = new RaftCore(config);
    this.replayedUpTo = config.hardState.commit;
    this.started = true;
    this.syncPeers();
    this.tickTimer = setInterval(() => this.tick(), this.options.heartbeatMs);
    // The loop starts on the next microtask, once startNode has wired onFatal/onRemoved.
    this.loopDone = Promise.resolve().then(() => this.loop()).catch((error) => {
      this.log.error(`raft loop failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      this.closed = true;
      this.onFatal(error);
    });
  }

  wake(): void {
    const resolve = this.wakeResolve;
    if (resolve !== null) {
      this.wakeResolve = null;
      resolve();
    } else {
      this.wakePending = true;
    }
  }

  private waitForWork(): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wakeResolve = resolve;
    });
  }

  private tick(): void {
    if (this.closed) return;
    this.core.tick();
    const now = performance.now();
    this.proposals.sweep(now);
    this.reads.sweep(now);
    this.observe();
    this.onTick();
    this.wake();
  }

  /** loop: one Ready at a time, so proposals arriving during an fsync are batched into the next one. */
  private async loop(): Promise<void> {
    while (!this.closed) {
      if (!this.core.hasReady()) {
        await this.waitForWork();
        continue;
      }
      const rd = this.core.ready();
      await this.handleReady(rd);
      this.core.advance(rd);
      this.metrics.readies++;
      this.observe();
      if (this.removed) {
        this.onRemoved();
        return;
      }
      this.snapshotter.maybeTake();
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.snapshot !== null || rd.committed.some((e) => e.kind === "conf")) this.syncPeers();
    // 1. Messages that do not depend on our durability (the leader's appends go out beside its own write).
    for (const m of rd.messages) this.send(m);
    // 2. Snapshot, entries and hard state, durable before anything that promises them.
    if (rd.snapshot !== null) await this.snapshotter.install(rd.snapshot);
    const started = performance.now();
    const saving = rd.mustSync ? this.storage.log.save(rd.entries, rd.hardState) : null;
    // A commit-index-only change is not written: every save costs an fsync, and a stored commit index that
    // lags is safe (it only bounds what a restart replays before hearing from the leader; the snapshot index
    // counts as committed). The next batch with entries or a vote carries the current commit index.
    if (saving !== null) await Promise.resolve(); // the WAL starts its fdatasync (a queued microtask) first
    // 3. Apply and answer the committed entries while our fsync runs: they are durable on a majority already
    // (the core counts the leader's own entries only once durable, thesis §10.2.1), so waiting for this batch's
    // write would only add an fsync to every acknowledgement. Then serve the reads.
    if (rd.committed.length > 0) this.apply(rd.committed);
    for (const rs of rd.readStates) this.reads.onReadState(rs.ctx, rs.index);
    this.reads.onApplied(this.kv.appliedIndex);
    if (saving !== null) {
      // While our write runs, entries that the peers' acks commit are applied as the acks arrive (onMessage):
      // with three nodes the two followers' fsyncs often finish before ours.
      this.applyWhileSaving = rd.snapshot === null;
      try {
        await saving;
      } finally {
        this.applyWhileSaving = false;
      }
      this.metrics.fsync.observe((performance.now() - started) / 1000);
    }
    // 4. Votes and append acks: they promise durability.
    for (const m of rd.messagesAfterPersist) this.send(m);
  }

  /** applyTaken applies what became committed while the outstanding Ready's write runs (see handleReady). */
  private applyTaken(): void {
    const entries = this.core.takeCommitted();
    if (entries.length === 0) return;
    this.apply(entries);
    this.reads.onApplied(this.kv.appliedIndex);
  }

  private send(m: Message): void {
    if (m.type === "snapshot") this.snapshotter.send(m);
    else this.transport.send(m);
  }

  private apply(entries: Entry[]): void {
    for (const e of entries) {
      if (e.kind === "normal") {
        this.kv.applyEntry(e.index, e.data);
      } else {
        this.kv.skip(e.index);
        if (e.kind === "conf") this.applyConf(e.change, e.index);
      }
      this.appliedTerm = e.term;
      this.proposals.applied(e.index, e.term, () => this.leaderDetails());
    }
    this.metrics.entriesApplied += entries.length;
  }

  private applyConf(change: ConfChange, index: number): void {
    const before = this.appliedConf;
    this.appliedConf = applyConfChange(before, change);
    if (this.appliedConf === before) {
      this.log.warn(`conf change at ${index} ignored (${change.type} ${change.id}: not valid for the configuration)`);
      return;
    }
    const where = change.type === "remove" ? "" : ` (raft ${change.raftAddr}, http ${change.httpAddr})`;
    const what = { add_learner: "added as learner", promote: "promoted to voter", remove: "removed", update_addr: "address updated" }[change.type];
    // Entries replayed from our own log at start are history, not events.
    const line = `membership: node ${change.id} ${what}${where} at index ${index}; members now ${describeConf(this.appliedConf)}`;
    if (index <= this.replayedUpTo) this.log.debug(line);
    else this.log.info(line);
    if (change.type === "remove" && change.id === this.options.id) this.removed = true;
  }

  private afterInstall(meta: SnapshotMeta): void {
    this.appliedConf = meta.conf;
    this.appliedTerm = meta.term;
    this.proposals.coveredBySnapshot(meta.index);
    this.syncPeers();
  }

  /** syncPeers makes the transport's address table follow the core's configuration. */
  syncPeers(): void {
    const members = this.core.status().members;
    const key = members.map((m) => `${m.id}@${m.raftAddr}`).join(",");
    if (key === this.membersKey) return;
    const previous = new Set(this.membersKey === "" ? [] : this.membersKey.split(",").map((s) => Number(s.split("@")[0])));
    this.membersKey = key;
    for (const m of members) {
      previous.delete(m.id);
      if (m.id !== this.options.id) this.setPeer(m.id, m.raftAddr);
    }
    for (const id of previous) {
      if (id === this.options.id || !this.peers.has(id)) continue;
      this.peers.delete(id);
      this.transport.removePeer(id);
    }
  }

  /** setPeer records where a peer listens (from the configuration, a join answer or a member's status). */
  setPeer(id: NodeId, raftAddr: string): void {
    if (id === this.options.id || raftAddr === "" || this.peers.get(id) === raftAddr) return;
    this.peers.set(id, raftAddr);
    this.transport.setPeer(id, raftAddr);
  }

  /** observe logs and counts role and leader changes, and settles leadership transfers. */
  private observe(): void {
    const core = this.core;
    const now = performance.now();
    if (core.leaderId !== 0) this.lastLeaderAt = now;
    if (core.role !== this.seenRole) {
      if (core.role === "candidate") this.metrics.elections++;
      if (core.role === "candidate") this.log.info(`election: campaigning in term ${core.term}`);
      if (core.role === "leader") this.log.info(`became leader in term ${core.term}`);
      if (this.seenRole === "leader") {
        this.log.info(`stepped down in term ${core.term} (leader now ${core.leaderId || "unknown"})`);
        this.proposals.leadershipLost(this.options.electionMs);
      }
      this.seenRole = core.role;
    }
    if (core.leaderId !== this.seenLeader) {
      if (core.leaderId !== 0) {
        this.metrics.leaderChanges++;
        if (core.leaderId !== this.options.id) this.log.info(`leader is node ${core.leaderId} (term ${core.term})`);
      }
      this.seenLeader = core.leaderId;
    }
    if (this.transferWaiters.length > 0) this.settleTransfers(now);
  }

  private settleTransfers(now: number): void {
    const leader = this.core.leaderId;
    const still: TransferWaiter[] = [];
    for (const w of this.transferWaiters) {
      if (leader === w.target) w.resolve();
      else if (now >= w.deadline) w.reject(new QklzlError("timeout", `leadership did not move to node ${w.target} in time`));
      else still.push(w);
    }
    this.transferWaiters = still;
  }

  /** waitForLeader resolves once `target` is the leader (as this node sees it), or rejects at the deadline. */
  waitForLeader(target: NodeId, timeoutMs: number): Promise<void> {
    if (this.core.leaderId === target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.transferWaiters.push({ target, deadline: performance.now() + timeoutMs, resolve, reject });
    });
  }

  // ---- request helpers ----

  /**
   * recentlyHeard: the peer sent something within one election timeout (check-quorum's own window; shorter
   * windows refuse writes falsely after a GC pause or a busy loop).
   */
  recentlyHeard(id: NodeId): boolean {
    const window = this.options.electionMs;
    return performance.now() - (this.heardAt.get(id) ?? -Infinity) <= window;
  }

  /** lastHeardAt: when `id` last sent us anything (performance.now()), or undefined (never, or since refused). */
  lastHeardAt(id: NodeId): number | undefined {
    return this.heardAt.get(id);
  }

  /** quorumReachable: as leader, a majority of voters (us included) was heard from recently. */
  quorumReachable(): boolean {
    const voters = this.core.membership.voters;
    let heard = 0;
    for (const id of voters) {
      if (id === this.options.id || this.recentlyHeard(id)) heard++;
    }
    return heard * 2 > voters.length;
  }

  memberById(id: NodeId): Member | undefined {
    return this.core.membership.member(id);
  }

  leaderDetails(): Record<string, unknown> {
    const leaderId = this.core.leaderId;
    return { leader_id: leaderId, leader_http_addr: leaderId === 0 ? "" : (this.memberById(leaderId)?.httpAddr ?? "") };
  }

  notLeaderError(why?: string): QklzlError {
    const leaderId = this.core.leaderId;
    if (leaderId === 0) return this.noLeaderError();
    const details = this.leaderDetails();
    const at = details.leader_http_addr === "" ? "" : ` at ${String(details.leader_http_addr)}`;
    const message = why ?? `node ${this.options.id} is not the leader; the leader is node ${leaderId}${at}`;
    return new QklzlError("not_leader", message, details);
  }

  noLeaderError(): QklzlError {
    return new QklzlError("no_leader", `node ${this.options.id} knows no leader (an election may be in progress); retry shortly`, {
      leader_id: 0,
      leader_http_addr: "",
    });
  }

  /** ensureLeader throws the fast refusal a request gets on a node that cannot serve it as leader. */
  ensureLeader(): void {
    this.ensureRunning();
    if (this.core.role !== "leader") throw this.notLeaderError();
    if (!this.quorumReachable()) {
      throw new QklzlError("no_quorum", `node ${this.options.id} leads but cannot reach a majority of the voters`);
    }
  }

  /** ensureStarted: the core exists (status and metrics work while stopping too). */
  ensureStarted(): void {
    if (!this.started) throw new QklzlError("shutting_down", `node ${this.options.id} is starting`);
  }

  /** isReady: a leader is known and this node applied everything it knows committed. */
  isReady(): boolean {
    if (!this.started || this.stopping || this.closed || this.core.leaderId === 0) return false;
    return this.kv.appliedIndex >= this.core.status().commit;
  }

  ensureRunning(): void {
    if (this.stopping || this.closed || !this.started) {
      throw new QklzlError("shutting_down", `node ${this.options.id} is ${this.started ? "shutting down" : "starting"}`);
    }
  }

  // ---- status ----

  status(): StatusJson {
    const s = this.core.status();
    const leader = s.members.find((m) => m.id === s.leaderId);
    const kv = this.kv.stats();
    return {
      id: this.options.id,
      state: s.role,
      is_leader: s.role === "leader",
      leader_id: s.leaderId,
      leader_http_addr: leader?.httpAddr ?? "",
      term: s.term,
      commit_index: s.commit,
      applied_index: kv.index,
      last_log_index: s.lastIndex,
      snapshot_index: this.storage.log.snapshotMeta().index,
      first_index: this.storage.log.firstIndex(),
      raft_addr: this.raftAddr,
      http_addr: this.httpAddr,
      members: s.members.map(
        (m): MemberJson => ({ id: m.id, raft_addr: m.raftAddr, http_addr: m.httpAddr, role: m.role, match_index: m.id === this.options.id && s.role === "leader" ? s.lastIndex : m.matchIndex }),
      ),
      cluster_id: this.storage.meta.clusterId ?? "",
      kv_hash: kv.hash,
      kv_hash_index: kv.index,
      kv_keys: kv.keys,
      snapshots_installed: this.metrics.snapshotsInstalled,
      ...this.extraStatus(),
    };
  }

  metricsText(): string {
    const s = this.core.status();
    this.metrics.readIndexRounds = this.reads.roundsStarted;
    const text = this.metrics.text({
      term: s.term,
      commitIndex: s.commit,
      appliedIndex: this.kv.appliedIndex,
      lastLogIndex: s.lastIndex,
      snapshotIndex: s.snapshotIndex,
      isLeader: s.role === "leader",
      kvKeys: this.kv.size,
      pendingProposals: this.proposals.size,
      pendingReads: this.reads.size,
    });
    const extra = this.extraMetricLines();
    return extra.length === 0 ? text : `${text}${extra.join("\n")}\n`;
  }

  // ---- shutdown ----

  /**
   * handOver: as leader, transfer leadership to the most caught-up voter and wait (bounded) for it. Only a
   * voter heard from recently and caught up (within handover_lag_entries_max of the commit index) qualifies:
   * a learner cannot lead, and a voter far behind would need the whole transfer window to catch up first.
   */
  async handOver(timeoutMs: number, why: string): Promise<void> {
    if (!this.started || this.closed || this.core.role !== "leader") return;
    const s = this.core.status();
    const candidates = s.members
      .filter((m) => m.role === "voter" && m.id !== this.options.id && this.recentlyHeard(m.id))
      .filter((m) => m.matchIndex + handover_lag_entries_max >= s.commit)
      .sort((a, b) => b.matchIndex - a.matchIndex);
    const target = candidates[0];
    if (target === undefined) {
      const others = s.members.filter((m) => m.role === "voter" && m.id !== this.options.id).length;
      if (others > 0) this.log.warn(`no caught-up voter to hand leadership to ${why}: the others elect a leader after an election timeout`);
      return;
    }
    const result = this.core.transferLeadership(target.id);
    this.wake();
    if (!result.ok) return;
    this.log.info(`handing leadership to node ${target.id} ${why}`);
    try {
      await this.waitForLeader(target.id, timeoutMs);
    } catch {
      this.log.warn(`leadership transfer to node ${target.id} did not finish in ${timeoutMs} ms`);
    }
  }

  /** shutdown stops the clock and the loop (the Ready in progress finishes its writes first). */
  async shutdown(error: QklzlError): Promise<void> {
    this.stopping = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.closed = true;
    this.wake();
    await this.loopDone;
    await this.snapshotter.idle();
    this.proposals.failAll(error);
    this.reads.failAll(error);
    for (const w of this.transferWaiters) w.reject(error);
    this.transferWaiters = [];
  }
}

export function describeConf(conf: ConfState): string {
  return conf.members.map((m) => `${m.id}${m.role === "learner" ? "(learner)" : ""}`).join(",") || "(none)";
}
