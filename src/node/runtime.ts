import type { ConsolaInstance } from "consola";
import type { KeyValue, KvRequest, KvResponse, KvStateMachine, RangeRequest, RangeResponse } from "../kv/index.ts";
import { RaftCore, applyConfChange } from "../raft/index.ts";
import type { ConfChange, ConfState, Entry, Message, NodeId, RaftStatus, Ready, SnapshotMeta } from "../raft/types.ts";
import type { SoftState } from "../raft/soft_state.ts";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import type { Storage } from "../storage/types.ts";
import type { Transport, TransportHandlers } from "../transport/types.ts";
import type { Consistency, StatusJson, StoreStatsJson } from "./api.ts";
import { handshakeIncarnationProblem, judgeOwnRemoval } from "./incarnation.ts";
import type { Leadership } from "./leadership.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import type { NodeMetrics } from "./metrics.ts";
import { coreConfig, createParts, type RuntimeOptions } from "./parts.ts";
import type { Peers } from "./peers.ts";
import type { Applied, Proposals } from "./proposals.ts";
import type { Reads } from "./reads.ts";
import type { Refusals } from "./refusals.ts";
import type { Requests } from "./requests.ts";
import type { Snapshotter } from "./snapshotter.ts";
import { describeConf, metricsText, statusJson, type StatusSources } from "./status.ts";
import type { MemberHttp } from "./tls/types.ts";
import type { NodeOptions } from "./types.ts";

export type { RuntimeOptions } from "./parts.ts";

/** RuntimeHandlers: what the node does when the runtime reports an event; given to start(). */
export interface RuntimeHandlers {
  /** onTick lets the membership tasks run on the heartbeat clock. */
  onTick(): void;
  /** onRemoved: this node applied its own removal from the configuration (or learned of it). */
  onRemoved(): void;
  /** onRemovalToConfirm: a removal of this id that names no incarnation was applied; ask the leader (removal_confirm.ts). */
  onRemovalToConfirm(index: number): void;
  /** onFatal: the loop failed (storage error, broken invariant); the node must stop. */
  onFatal(error: unknown): void;
  /** onUnknownPeer: a message came from a node we have no address for. */
  onUnknownPeer(id: NodeId): void;
  /** extraStatus / extraMetricLines: what other parts (cluster_health.ts) add after the original fields. */
  extraStatus?(): Partial<StatusJson>;
  extraMetricLines?(): string[];
}

export interface StartOptions {
  raftAddr: string;
  httpAddr: string;
  /** campaign: start an election at once (a bootstrapped one-node cluster leads without waiting a timeout). */
  campaign: boolean;
}

/**
 * NodeRuntime drives the Raft core with a real clock, the store and the transport (the Ready contract of
 * src/raft/types.ts), applies committed entries to the map and resolves the requests waiting on them.
 * It is the only place where time, disk and sockets meet the core. The APIs use its narrow surface
 * (propose, proposeConf, read, status and a few questions); peers, leadership, refusals and status have
 * files of their own.
 */
export class NodeRuntime {
  readonly options: NodeOptions;
  readonly storage: Storage;
  readonly logger: ConsolaInstance;
  /** memberHttp: how this node calls other members' HTTP APIs (https with TLS on); replaced on a TLS reload. */
  memberHttp: MemberHttp = { https: false };
  private readonly kv: KvStateMachine;
  private readonly metrics: NodeMetrics;
  private readonly proposals: Proposals;
  private readonly reads: Reads;
  private readonly snapshotter: Snapshotter;
  private readonly peers: Peers;
  private readonly refusals: Refusals;
  private readonly leadership: Leadership;
  private readonly requests: Requests;
  /** leases: the leader's expiry clock and the lease operations (lease_keeper.ts). */
  readonly leases: LeaseKeeper;
  private core!: RaftCore;
  private transport!: Transport;
  private handlers!: RuntimeHandlers;
  raftAddr = "";
  httpAddr = "";
  /** appliedConf/appliedTerm describe the last applied entry: what a snapshot taken now covers. */
  private appliedConf: ConfState;
  private appliedTerm: number;
  /** stopping: no new requests; closed: the loop exits. */
  stopping = false;
  private closed = false;
  /** failed: fail() ran; the node is on its fatal path. */
  private failed = false;
  private started = false;
  private wakeResolve: (() => void) | null = null;
  private wakePending = false;
  /** applyWhileSaving: the loop awaits the outstanding Ready's write; committed entries may be applied meanwhile. */
  private applyWhileSaving = false;
  /**
   * savingFrom: the first index the outstanding Ready's write replaces (Infinity when no write of entries
   * runs). Only the loop saves entries, one write at a time: the log's entries below it are on disk.
   */
  private savingFrom = Infinity;
  /** saveWaiters: callers of nextSave(), settled when a write (or a snapshot install) completes. */
  private saveWaiters: { resolve(): void; reject(error: unknown): void }[] = [];
  private loopDone: Promise<void> = Promise.resolve();
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private removed = false;
  /** replayedUpTo: the commit index at start; applying up to it replays our own history. */
  private replayedUpTo = 0;

  constructor(init: RuntimeOptions) {
    this.options = init.options;
    this.storage = init.storage;
    this.kv = init.kv;
    this.logger = init.logger;
    const snap = this.storage.log.snapshotMeta();
    this.appliedConf = snap.conf;
    this.appliedTerm = snap.term;
    assert(this.kv.appliedIndex === snap.index, `runtime: map at ${this.kv.appliedIndex}, snapshot at ${snap.index}`);
    const parts = createParts(init, {
      core: () => this.core,
      transport: () => this.transport,
      wake: () => this.wake(),
      ensureRunning: () => this.ensureRunning(),
      appliedMeta: () => ({ index: this.kv.appliedIndex, term: this.appliedTerm, conf: this.appliedConf }),
      installed: (meta) => this.afterInstall(meta),
      isDurable: (index, term) => this.isDurable(index, term),
      nextSave: () => this.nextSave(),
    });
    this.metrics = parts.metrics;
    this.proposals = parts.proposals;
    this.reads = parts.reads;
    this.peers = parts.peers;
    this.refusals = parts.refusals;
    this.leadership = parts.leadership;
    this.requests = parts.requests;
    this.snapshotter = parts.snapshotter;
    this.leases = new LeaseKeeper({
      electionMs: this.options.electionMs,
      kv: this.kv,
      logger: this.logger,
      softState: () => this.core.softState(),
      propose: (data) => this.requests.propose(data),
      confirmLeader: () => this.requests.confirmLeader(),
      notLeaderError: () => this.refusals.notLeaderError(),
    });
  }

  /**
   * transportHandlers: inbound traffic goes straight into the core (dropped until it exists). An exception in
   * them is a broken invariant of this node, not a peer's fault: the transport reports it through onFatal.
   */
  readonly transportHandlers: TransportHandlers = {
    onMessage: (m) => {
      if (!this.started || this.closed) return;
      this.peers.heard(m.from);
      if (!this.peers.has(m.from)) this.handlers.onUnknownPeer(m.from);
      this.core.step(m);
      if (this.applyWhileSaving) this.applyTaken();
      this.wake();
    },
    onSnapshot: async (m, data) => {
      if (!this.started || this.closed) throw new Error("node is not running");
      this.peers.heard(m.from);
      try {
        this.snapshotter.receive(m, data);
      } catch (error) {
        // The transfer fails (the transport rejects it), and the half-stepped core must not run on.
        this.fail(error, `stepping snapshot ${m.snapshot.index} from node ${m.from} failed`);
        throw error;
      }
    },
    onUnreachable: (id) => {
      if (!this.started || this.closed) return;
      this.peers.unreachable(id);
      this.core.reportUnreachable(id);
      this.wake();
    },
    onFatal: (error) => this.fail(error, "handling peer traffic failed"),
  };

  /** isKnownPeer: see Peers.isKnownPeer (the transport asks before the core exists). */
  isKnownPeer(id: NodeId): boolean {
    return this.peers.isKnownPeer(id);
  }

  /** peerIncarnationProblem: why a peer connection claiming `incarnation` for member `id` is refused (incarnation.ts). */
  peerIncarnationProblem(id: NodeId, incarnation: string): string | null {
    return this.started ? handshakeIncarnationProblem(this.core.membership.member(id), id, incarnation) : null;
  }

  /** start builds the core from what storage holds and starts the clock and the loop. */
  start(transport: Transport, options: StartOptions, handlers: RuntimeHandlers): void {
    assert(!this.started, "runtime: started twice");
    this.transport = transport;
    this.handlers = handlers;
    this.raftAddr = options.raftAddr;
    this.httpAddr = options.httpAddr;
    const config = coreConfig(this.options, this.storage, this.kv.appliedIndex);
    this.core = new RaftCore(config);
    this.replayedUpTo = config.hardState.commit;
    this.started = true;
    this.syncPeers();
    if (options.campaign) this.core.campaign();
    this.tickTimer = setInterval(() => this.tick(), this.options.heartbeatMs);
    this.loopDone = this.loop().catch((error) => this.fail(error, "raft loop failed"));
  }

  /**
   * fail: the node cannot go on (a failed write, a broken invariant, perhaps half-way through a step): log it,
   * stop the loop and hand it to onFatal (which stops the node; the process exits non-zero). Once only.
   */
  private fail(error: unknown, what: string): void {
    if (this.failed) return;
    this.failed = true;
    // The stack that matters is where it broke: the cause's, when the transport wrapped a handler's error.
    const origin = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const stack = origin instanceof Error ? (origin.stack ?? origin.message) : String(origin);
    this.logger.error(`${what}: ${origin === error ? stack : `${(error as Error).message}\n${stack}`}`);
    this.closed = true;
    this.wake();
    this.handlers.onFatal(error);
  }

  private wake(): void {
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
    this.leadership.observe();
    this.leases.tick(now);
    this.handlers.onTick();
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
      this.leadership.observe();
      if (this.removed) {
        this.handlers.onRemoved();
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
    if (rd.snapshot !== null) {
      await this.snapshotter.install(rd.snapshot);
      this.settleSaveWaiters(null);
    }
    const started = performance.now();
    const saving = rd.mustSync ? this.storage.log.save(rd.entries, rd.hardState) : null;
    if (saving !== null) this.savingFrom = rd.entries[0]?.index ?? Infinity;
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
        this.savingFrom = Infinity;
      }
      this.settleSaveWaiters(null);
      this.metrics.fsync.observe((performance.now() - started) / 1000);
    }
    // 4. Votes and append acks: they promise durability.
    for (const m of rd.messagesAfterPersist) this.send(m);
  }

  /**
   * isDurable: this node's log holds entry (index, term) on disk. Not always so for an applied entry: a
   * follower applies what the leader says is committed while its own write of it runs, or before that write
   * has even started (the entry still in the core's unstable log, not in the WAL at all).
   */
  isDurable(index: number, term: number): boolean {
    return index < this.savingFrom && this.storage.log.term(index) === term;
  }

  /** nextSave resolves once the running write (or, with none running, the next) completes; rejects once stopped. */
  nextSave(): Promise<void> {
    if (this.closed) return Promise.reject(new QklzlError("shutting_down", `node ${this.options.id} is shutting down`));
    this.wake();
    return new Promise((resolve, reject) => this.saveWaiters.push({ resolve, reject }));
  }

  /** settleSaveWaiters resolves the nextSave() callers, or rejects them with `failure` (the node stopped). */
  private settleSaveWaiters(failure: Error | null): void {
    const waiters = this.saveWaiters;
    this.saveWaiters = [];
    for (const w of waiters) {
      if (failure === null) w.resolve();
      else w.reject(failure);
    }
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
      let response: KvResponse | null = null;
      if (e.kind === "normal") {
        response = this.kv.applyEntry(e.index, e.data);
      } else {
        this.kv.skip(e.index);
        if (e.kind === "conf") this.applyConf(e.change, e.index);
      }
      this.appliedTerm = e.term;
      this.proposals.applied(e.index, e.term, () => this.refusals.leaderDetails(), response);
    }
    this.metrics.entriesApplied += entries.length;
  }

  private applyConf(change: ConfChange, index: number): void {
    const before = this.appliedConf;
    this.appliedConf = applyConfChange(before, change);
    if (this.appliedConf === before) {
      this.logger.warn(`conf change at ${index} ignored (${change.type} ${change.id}: not valid for the configuration)`);
      return;
    }
    const where = change.type === "remove" ? "" : ` (raft ${change.raftAddr}, http ${change.httpAddr})`;
    const what = { add_learner: "added as learner", promote: "promoted to voter", remove: "removed", update_addr: "address updated" }[change.type];
    // Entries replayed from our own log at start are history, not events.
    const line = `membership: node ${change.id} ${what}${where} at index ${index}; members now ${describeConf(this.appliedConf)}`;
    if (index <= this.replayedUpTo) this.logger.debug(line);
    else this.logger.info(line);
    if (change.type === "remove" && change.id === this.options.id) this.ownRemoval(change, index);
  }

  /**
   * ownRemoval: a committed entry removes this node's id. The node acts on it only when it is the cluster's
   * configuration now, never on the removal of an earlier incarnation it replays after rejoining (incarnation.ts).
   */
  private ownRemoval(change: ConfChange, index: number): void {
    const verdict = judgeOwnRemoval(change.incarnation, this.storage.meta.incarnation, this.core.softState().membership.member(this.options.id));
    if (verdict === "removed") this.removed = true;
    else if (verdict === "confirm") this.handlers.onRemovalToConfirm(index);
    else this.logger.debug(`the removal of node ${change.id} at index ${index} is history (an earlier incarnation, or re-added since)`);
  }

  private afterInstall(meta: SnapshotMeta): void {
    this.appliedConf = meta.conf;
    this.appliedTerm = meta.term;
    this.proposals.coveredBySnapshot(meta.index);
    this.syncPeers();
  }

  /** syncPeers makes the transport's address table follow the core's configuration. */
  private syncPeers(): void {
    this.peers.syncPeers(this.core.status().members);
  }

  // ---- the surface the APIs and the membership tasks use ----

  /** propose appends a validated, encoded command and resolves once it is applied here (see Requests). */
  propose(data: Uint8Array): Promise<Applied> {
    return this.requests.propose(data);
  }

  /** proposeRequest: a validated KvRequest (v2 entry, optional request id); resolves with its apply answer. */
  proposeRequest(request: KvRequest, requestId?: string): Promise<Applied> {
    return this.requests.proposeRequest(request, requestId);
  }

  /** proposeConf appends a configuration change and resolves once it is applied; `what` names it in errors. */
  proposeConf(change: ConfChange, what: string): Promise<void> {
    return this.requests.proposeConf(change, what);
  }

  /** offerConf: a membership task's change, appended now or refused; never waits (see Requests). */
  offerConf(change: ConfChange): boolean {
    return this.requests.offerConf(change);
  }

  /** read: linearizable or stale; the key is validated by the caller. */
  read(key: string, consistency: Consistency): Promise<{ value: string } | null> {
    return this.requests.read(key, consistency);
  }

  /** readKv: as read, with the key's revisions and the store revision; the key is validated by the caller. */
  readKv(key: string, consistency: Consistency): Promise<{ kv: KeyValue; revision: number } | null> {
    return this.requests.readKv(key, consistency);
  }

  /** range: linearizable or stale, served from the store (a past revision from history); validated by the caller. */
  range(request: RangeRequest, consistency: Consistency): Promise<RangeResponse> {
    return this.requests.range(request, consistency);
  }

  /** storeStats: the store's revision, compacted revision, size and hash as applied on this node now. */
  storeStats(): StoreStatsJson {
    const stats = this.kv.stats();
    return { revision: stats.revision, compact_revision: stats.compact_revision, bytes: this.kv.memory().liveBytes, hash: stats.hash };
  }

  /** status: the body of GET /status (works while stopping too, not before the core exists). */
  status(): StatusJson {
    this.ensureStarted();
    return { ...statusJson(this.statusSources()), ...this.handlers.extraStatus?.() };
  }

  /** metricsText: the runtime's Prometheus text. */
  metricsText(): string {
    this.ensureStarted();
    const text = metricsText(this.statusSources());
    const extra = [...this.leases.metricLines(), ...(this.handlers.extraMetricLines?.() ?? [])];
    return `${text}${extra.join("\n")}\n`;
  }

  private statusSources(): StatusSources {
    return {
      id: this.options.id,
      core: this.core,
      kv: this.kv,
      storage: this.storage,
      metrics: this.metrics,
      proposals: this.proposals,
      reads: this.reads,
      raftAddr: this.raftAddr,
      httpAddr: this.httpAddr,
    };
  }

  /** softState: the core's role, leader, term and configuration, read-only. */
  softState(): SoftState {
    return this.core.softState();
  }

  /** raftStatus: the core's progress view (members with match index, commit and last index). */
  raftStatus(): RaftStatus {
    return this.core.status();
  }

  get appliedIndex(): number {
    return this.kv.appliedIndex;
  }

  /** lastLeaderAt: when a leader was last known to this node (performance.now() time). */
  get lastLeaderAt(): number {
    return this.leadership.lastLeaderAt;
  }

  /** appliedConfState: the configuration of the last applied entry. */
  get appliedConfState(): ConfState {
    return this.appliedConf;
  }

  /** recentlyHeard: see Peers.recentlyHeard. */
  recentlyHeard(id: NodeId): boolean {
    return this.peers.recentlyHeard(id);
  }

  /** lastHeardAt: when `id` last sent us anything (performance.now()), or undefined (never, or since refused). */
  lastHeardAt(id: NodeId): number | undefined {
    return this.peers.lastHeardAt(id);
  }

  /** setPeer: see Peers.setPeer. */
  setPeer(id: NodeId, raftAddr: string): void {
    this.peers.setPeer(id, raftAddr);
  }

  /** ensureLeader throws the fast refusal a request gets on a node that cannot serve it as leader. */
  ensureLeader(): void {
    this.requests.ensureLeader();
  }

  private ensureRunning(): void {
    if (this.stopping || this.closed || !this.started) throw this.refusals.shuttingDownError(this.started);
  }

  /** ensureStarted: the core exists (status and metrics work while stopping too). */
  private ensureStarted(): void {
    if (!this.started) throw this.refusals.shuttingDownError(false);
  }

  /** isReady: a leader is known and this node applied everything it knows committed. */
  isReady(): boolean {
    if (!this.started || this.stopping || this.closed || this.core.softState().leaderId === 0) return false;
    return this.kv.appliedIndex >= this.core.status().commit;
  }

  /** transferLeader: as leader, hand leadership to voter `id` and resolve once it leads. */
  transferLeader(id: NodeId): Promise<void> {
    return this.leadership.transferLeader(id);
  }

  /** snapshot takes a snapshot now and compacts the log behind it. */
  snapshot(): Promise<{ index: number }> {
    this.ensureRunning();
    return this.snapshotter.take();
  }

  /** reportRemoved: this node learned it is no longer a member (see RuntimeHandlers.onRemoved). */
  reportRemoved(): void {
    this.handlers.onRemoved();
  }

  // ---- shutdown ----

  /** handOver: as leader, transfer leadership to the most caught-up voter and wait (bounded) for it. */
  async handOver(timeoutMs: number, why: string): Promise<void> {
    if (!this.started || this.closed) return;
    await this.leadership.handOver(timeoutMs, why);
  }

  /** shutdown stops the clock and the loop (the Ready in progress finishes its writes first). */
  async shutdown(error: QklzlError): Promise<void> {
    this.stopping = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.closed = true;
    this.wake();
    await this.loopDone;
    this.settleSaveWaiters(error); // no write runs any more: a snapshot waiting for one gives up
    await this.snapshotter.idle();
    this.proposals.failAll(error);
    this.reads.failAll(error);
    this.leadership.failAll(error);
  }
}
