import type { KeyValue, KvRequest, RangeRequest, RangeResponse } from "../kv/index.ts";
import { RaftCore } from "../raft/index.ts";
import type { ConfChange, Message, Ready } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import type { QklzlError } from "../shared/errors.ts";
import { stamp, TracePoint, tracing } from "../shared/trace.ts";
import type { Transport, TransportHandlers } from "../transport/types.ts";
import type { Consistency, StatusJson } from "./api.ts";
import { coreConfig, type RuntimeOptions } from "./parts.ts";
import type { Applied } from "./proposals.ts";
import { RuntimeSurface, type RuntimeHandlers } from "./runtime_surface.ts";
import { metricsText, statusJson } from "./status.ts";

export type { RuntimeOptions } from "./parts.ts";

export type { RuntimeHandlers } from "./runtime_surface.ts";

export interface StartOptions {
  raftAddr: string;
  httpAddr: string;
  /** campaign: start an election at once (a bootstrapped one-node cluster leads without waiting a timeout). */
  campaign: boolean;
}

/**
 * NodeRuntime drives the Raft core with a real clock, the store and the transport (the Ready contract of
 * src/raft/types.ts): it steps inbound traffic, ticks, persists, sends, hands committed entries to the
 * applier and advances. It is the only place where time, disk and sockets meet the core. The APIs use its
 * narrow surface (propose, proposeConf, read, status); the questions the membership tasks ask are in
 * runtime_surface.ts, and applying (applier.ts), write tracking (save_tracker.ts), peers, leadership,
 * refusals and status have files of their own, built by parts.ts.
 */
export class NodeRuntime extends RuntimeSurface {
  /** failed: fail() ran; the node is on its fatal path. */
  private failed = false;
  private wakeResolve: (() => void) | null = null;
  private wakePending = false;
  /** applyWhileSaving: the loop awaits the outstanding Ready's write; committed entries may be applied meanwhile. */
  private applyWhileSaving = false;
  /** sendWhileSaving: the loop awaits the outstanding Ready's write; new messages may leave meanwhile (sendEarly). */
  private sendWhileSaving = false;
  private sendEarlyScheduled = false;
  private loopDone: Promise<void> = Promise.resolve();
  private tickTimer: ReturnType<typeof setInterval> | null = null;

  constructor(init: RuntimeOptions) {
    super(init);
    const snap = this.storage.log.snapshotMeta();
    assert(this.kv.appliedIndex === snap.index, `runtime: map at ${this.kv.appliedIndex}, snapshot at ${snap.index}`);
  }

  /**
   * transportHandlers: inbound traffic goes straight into the core (dropped until it exists). An exception in
   * them is a broken invariant of this node, not a peer's fault: the transport reports it through onFatal.
   */
  readonly transportHandlers: TransportHandlers = {
    onMessage: (m) => {
      if (!this.started || this.closed) return;
      this.peers.heard(m.from);
      if (tracing) traceInbound(m);
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

  /** start builds the core from what storage holds and starts the clock and the loop. */
  start(transport: Transport, options: StartOptions, handlers: RuntimeHandlers): void {
    assert(!this.started, "runtime: started twice");
    this.transport = transport;
    this.handlers = handlers;
    this.raftAddr = options.raftAddr;
    this.httpAddr = options.httpAddr;
    const config = coreConfig(this.options, this.storage, this.kv.appliedIndex);
    this.core = new RaftCore(config);
    this.applier.replayUpTo(config.hardState.commit);
    this.started = true;
    if (tracing) stamp(TracePoint.node, -1, this.options.id);
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

  protected wake(): void {
    if (this.sendWhileSaving) this.scheduleSendEarly();
    const resolve = this.wakeResolve;
    if (resolve !== null) {
      this.wakeResolve = null;
      resolve();
    } else {
      this.wakePending = true;
    }
  }

  /**
   * scheduleSendEarly: once per turn of the event loop (all proposals and acks of that turn share one append per
   * follower), hand the core's new messages to the transport while our write runs (RaftCore.takeMessages).
   */
  private scheduleSendEarly(): void {
    if (this.sendEarlyScheduled) return;
    this.sendEarlyScheduled = true;
    setImmediate(() => {
      this.sendEarlyScheduled = false;
      if (this.closed || !this.sendWhileSaving) return;
      const messages = this.core.takeMessages();
      // A conf entry committed during the write may have added a member the transport has no address for yet
      // (handleReady syncs the peers before its sends; this path has to as well, or the first append is dropped).
      if (messages.some((m) => !this.peers.has(m.to))) this.syncPeers();
      for (const m of messages) this.send(m);
    });
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
      if (this.applier.removed) {
        this.handlers.onRemoved();
        return;
      }
      this.snapshotter.maybeTake();
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (tracing) for (const e of rd.entries) stamp(TracePoint.readyIn, e.index, rd.committed.length);
    if (rd.snapshot !== null || rd.committed.some((e) => e.kind === "conf")) this.syncPeers();
    // 1. Messages that do not depend on our durability (the leader's appends go out beside its own write).
    for (const m of rd.messages) this.send(m);
    // The peer sockets are written in a microtask (out_queue.ts coalesces a Ready's frames): let it run before our
    // WAL write, so the followers' writes start ~20 µs sooner (at one connection the acks are the critical path).
    if (rd.messages.length > 0 && rd.mustSync) await Promise.resolve();
    // 2. Snapshot, entries and hard state, durable before anything that promises them.
    if (rd.snapshot !== null) {
      await this.snapshotter.install(rd.snapshot);
      this.saves.settle(null);
    }
    const started = performance.now();
    const inline = rd.mustSync && this.syncInline();
    if (rd.mustSync) this.storage.log.setInlineSync?.(inline);
    const saving = rd.mustSync ? this.storage.log.save(rd.entries, rd.hardState) : null;
    if (saving !== null) this.saves.started(rd.entries[0]?.index ?? Infinity);
    if (tracing) for (const e of rd.entries) stamp(TracePoint.walWritten, e.index);
    // A commit-index-only change is not written: every save costs an fsync, and a stored commit index that
    // lags is safe (it only bounds what a restart replays before hearing from the leader; the snapshot index
    // counts as committed). The next batch with entries or a vote carries the current commit index.
    if (saving !== null) await Promise.resolve(); // the WAL starts its fdatasync (a queued microtask) first
    // 3. Apply and answer the committed entries while our fsync runs: they are durable on a majority already
    // (the core counts the leader's own entries only once durable, thesis §10.2.1), so waiting for this batch's
    // write would only add an fsync to every acknowledgement. An inline fsync has already run by now (in the
    // microtask above): then the acks go out first, and the apply follows them (a follower's ack is what the
    // leader's commit waits for; its own apply of the previous commit is not).
    if (!inline) this.applyReady(rd);
    if (saving !== null) {
      // While our write runs, entries that the peers' acks commit are applied as the acks arrive (onMessage):
      // with three nodes the two followers' fsyncs often finish before ours.
      this.applyWhileSaving = rd.snapshot === null;
      this.sendWhileSaving = true;
      try {
        await saving;
      } finally {
        this.applyWhileSaving = false;
        this.sendWhileSaving = false;
        this.saves.finished();
      }
      this.saves.settle(null);
      if (tracing) for (const e of rd.entries) stamp(TracePoint.saved, e.index);
      this.metrics.fsync.observe((performance.now() - started) / 1000);
    }
    // 4. Votes and append acks: they promise durability.
    for (const m of rd.messagesAfterPersist) this.send(m);
    if (inline) this.applyReady(rd);
    if (tracing) stamp(TracePoint.readyOut, rd.entries.at(-1)?.index ?? -1, rd.committed.at(-1)?.index ?? -1);
  }

  /** applyReady applies the Ready's committed entries, then serves its read states and the reads now applied. */
  private applyReady(rd: Ready): void {
    if (rd.committed.length > 0) this.applier.apply(rd.committed);
    for (const rs of rd.readStates) this.reads.onReadState(rs.ctx, rs.index);
    this.reads.onApplied(this.kv.appliedIndex);
  }

  /**
   * syncInline: whether this Ready's fdatasync runs on the event loop instead of the thread pool: a follower's
   * does. The pool's hop (dispatch, a wake-up, the callback) costs ~60-90 µs per save, and a follower's ack waits
   * for its fsync anyway. A leader's stays on the pool: meanwhile its loop proposes and ships new requests, and
   * steps the followers' acks, which commit an entry without its own write (two of three). An inline leader
   * sync after a run of one-client saves (12-02) lost here on 12-03: wrk -c1, 20 s, 5 pairs alternated, p50
   * 0.519-0.540 inline vs 0.471-0.497 ms on the pool, 1,691-1,755 vs 1,845-1,935 puts/s: a slow leader fsync
   * held the acks that would have committed without it (trace_put.ts, 30 s inline: of the slowest 1 %, 134 of 572
   * puts waited longest for the leader to step an ack, 182 in its own fsync).
   */
  private syncInline(): boolean {
    return this.core.softState().role === "follower";
  }

  /** applyTaken applies what became committed while the outstanding Ready's write runs (see handleReady). */
  private applyTaken(): void {
    const entries = this.core.takeCommitted();
    if (entries.length === 0) return;
    this.applier.apply(entries);
    this.reads.onApplied(this.kv.appliedIndex);
  }

  private send(m: Message): void {
    if (m.type === "snapshot") this.snapshotter.send(m);
    else this.transport.send(m);
  }

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

  // ---- shutdown ----

  /** shutdown stops the clock and the loop (the Ready in progress finishes its writes first). */
  async shutdown(error: QklzlError): Promise<void> {
    this.stopping = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.closed = true;
    this.wake();
    await this.loopDone;
    this.saves.settle(error); // no write runs any more: a snapshot waiting for one gives up
    await this.snapshotter.idle();
    this.proposals.failAll(error);
    this.reads.failAll(error);
    this.leadership.failAll(error);
  }
}

/** traceInbound stamps the messages of a write's path: a follower's received entries, the leader's acks. */
function traceInbound(m: Message): void {
  if (m.type === "append" && m.entries.length > 0) stamp(TracePoint.appendIn, m.entries[m.entries.length - 1]!.index, m.from);
  else if (m.type === "append_resp" && !m.reject) stamp(TracePoint.ackIn, m.index, m.from);
}
