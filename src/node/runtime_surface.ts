import type { ConsolaInstance } from "consola";
import type { KvStateMachine } from "../kv/index.ts";
import type { RaftCore } from "../raft/index.ts";
import type { ConfState, NodeId, RaftStatus } from "../raft/types.ts";
import type { SoftState } from "../raft/soft_state.ts";
import type { Storage } from "../storage/types.ts";
import type { Transport } from "../transport/types.ts";
import type { StatusJson, StoreStatsJson } from "./api.ts";
import type { Applier } from "./applier.ts";
import { handshakeIncarnationProblem } from "./incarnation.ts";
import type { Leadership } from "./leadership.ts";
import type { LeaseKeeper } from "./lease_keeper.ts";
import type { NodeMetrics } from "./metrics.ts";
import { createParts, type RuntimeOptions } from "./parts.ts";
import type { Peers } from "./peers.ts";
import type { Proposals } from "./proposals.ts";
import type { Reads } from "./reads.ts";
import type { Refusals } from "./refusals.ts";
import type { Requests } from "./requests.ts";
import type { SaveTracker } from "./save_tracker.ts";
import type { Snapshotter } from "./snapshotter.ts";
import type { StatusSources } from "./status.ts";
import type { MemberHttp } from "./tls/types.ts";
import type { NodeOptions } from "./types.ts";

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

/**
 * RuntimeSurface: what the membership tasks, the admin API and the transport's handshake ask of a running
 * node besides requests (its view of the core, the peers' liveness, transfers, snapshots, readiness), each
 * answered by one part. It also holds what both halves read: the options, the store, the lifecycle flags
 * and the parts, built here by parts.ts. NodeRuntime (runtime.ts) extends it with the Ready driver and the
 * request surface; the split exists so the driver's file holds the loop and not this list of questions.
 */
export abstract class RuntimeSurface {
  readonly options: NodeOptions;
  readonly storage: Storage;
  readonly logger: ConsolaInstance;
  /** memberHttp: how this node calls other members' HTTP APIs (https with TLS on); replaced on a TLS reload. */
  memberHttp: MemberHttp = { https: false };
  /** leases: the leader's expiry clock and the lease operations (lease_keeper.ts). */
  readonly leases: LeaseKeeper;
  raftAddr = "";
  httpAddr = "";
  /** stopping: no new requests; closed: the loop exits. */
  stopping = false;
  protected closed = false;
  protected started = false;
  protected readonly kv: KvStateMachine;
  /** the parts (parts.ts), one job each. */
  protected readonly metrics: NodeMetrics;
  protected readonly proposals: Proposals;
  protected readonly reads: Reads;
  protected readonly peers: Peers;
  protected readonly refusals: Refusals;
  protected readonly leadership: Leadership;
  protected readonly requests: Requests;
  protected readonly snapshotter: Snapshotter;
  protected readonly applier: Applier;
  protected readonly saves: SaveTracker;
  /** syncPeers makes the transport's address table follow the core's configuration. */
  protected readonly syncPeers: () => void;
  /** core, transport and handlers exist from start(). */
  protected core!: RaftCore;
  protected transport!: Transport;
  protected handlers!: RuntimeHandlers;

  protected constructor(init: RuntimeOptions) {
    this.options = init.options;
    this.storage = init.storage;
    this.kv = init.kv;
    this.logger = init.logger;
    const parts = createParts(init, {
      core: () => this.core,
      transport: () => this.transport,
      wake: () => this.wake(),
      ensureRunning: () => this.ensureRunning(),
      closed: () => this.closed,
      removalToConfirm: (index) => this.handlers.onRemovalToConfirm(index),
    });
    this.metrics = parts.metrics;
    this.proposals = parts.proposals;
    this.reads = parts.reads;
    this.peers = parts.peers;
    this.refusals = parts.refusals;
    this.leadership = parts.leadership;
    this.requests = parts.requests;
    this.snapshotter = parts.snapshotter;
    this.applier = parts.applier;
    this.saves = parts.saves;
    this.leases = parts.leases;
    this.syncPeers = parts.syncPeers;
  }

  /** wake: the Ready loop has work (runtime.ts). */
  protected abstract wake(): void;

  /** isKnownPeer: see Peers.isKnownPeer (the transport asks before the core exists). */
  isKnownPeer(id: NodeId): boolean {
    return this.peers.isKnownPeer(id);
  }

  /** peerIncarnationProblem: why a peer connection claiming `incarnation` for member `id` is refused (incarnation.ts). */
  peerIncarnationProblem(id: NodeId, incarnation: string): string | null {
    return this.started ? handshakeIncarnationProblem(this.core.membership.member(id), id, incarnation) : null;
  }

  /** storeStats: the store's revision, compacted revision, size and hash as applied on this node now. */
  storeStats(): StoreStatsJson {
    const stats = this.kv.stats();
    return { revision: stats.revision, compact_revision: stats.compact_revision, bytes: this.kv.memory().liveBytes, hash: stats.hash };
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
    return this.applier.appliedConf;
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

  /** handOver: as leader, transfer leadership to the most caught-up voter and wait (bounded) for it. */
  async handOver(timeoutMs: number, why: string): Promise<void> {
    if (!this.started || this.closed) return;
    await this.leadership.handOver(timeoutMs, why);
  }

  protected ensureRunning(): void {
    if (this.stopping || this.closed || !this.started) throw this.refusals.shuttingDownError(this.started);
  }

  /** ensureStarted: the core exists (status and metrics work while stopping too). */
  protected ensureStarted(): void {
    if (!this.started) throw this.refusals.shuttingDownError(false);
  }

  protected statusSources(): StatusSources {
    const { metrics, proposals, reads } = this;
    return { id: this.options.id, core: this.core, kv: this.kv, storage: this.storage, metrics, proposals, reads, raftAddr: this.raftAddr, httpAddr: this.httpAddr };
  }
}
