import type { ConsolaInstance } from "consola";
import type { KvStateMachine } from "../kv/index.ts";
import { createRand, type RaftCore } from "../raft/index.ts";
import type { RaftConfig } from "../raft/types.ts";
import { limits } from "../shared/limits.ts";
import type { Storage } from "../storage/types.ts";
import type { Transport } from "../transport/types.ts";
import { Applier } from "./applier.ts";
import { Leadership } from "./leadership.ts";
import { LeaseKeeper } from "./lease_keeper.ts";
import { NodeMetrics } from "./metrics.ts";
import { Peers } from "./peers.ts";
import { Proposals } from "./proposals.ts";
import { Reads } from "./reads.ts";
import { Refusals } from "./refusals.ts";
import { Requests } from "./requests.ts";
import { SaveTracker } from "./save_tracker.ts";
import { Snapshotter } from "./snapshotter.ts";
import type { NodeOptions } from "./types.ts";

export interface RuntimeOptions {
  options: NodeOptions;
  storage: Storage;
  kv: KvStateMachine;
  logger: ConsolaInstance;
}

/** PartsHooks: what the parts ask of the runtime that owns them (the core and transport exist from start()). */
export interface PartsHooks {
  core(): RaftCore;
  transport(): Transport;
  wake(): void;
  ensureRunning(): void;
  /** closed: the loop has exited or is exiting. */
  closed(): boolean;
  /** removalToConfirm: see RuntimeHandlers.onRemovalToConfirm. */
  removalToConfirm(index: number): void;
}

/** RuntimeParts: the runtime's helpers, one job each. */
export interface RuntimeParts {
  metrics: NodeMetrics;
  proposals: Proposals;
  reads: Reads;
  peers: Peers;
  refusals: Refusals;
  leadership: Leadership;
  requests: Requests;
  snapshotter: Snapshotter;
  applier: Applier;
  saves: SaveTracker;
  /** leases: the leader's expiry clock and the lease operations (lease_keeper.ts). */
  leases: LeaseKeeper;
  /** syncPeers makes the transport's address table follow the core's configuration. */
  syncPeers(): void;
}

/** createParts builds the runtime's parts and wires them to each other and to the runtime's hooks. */
export function createParts(init: RuntimeOptions, hooks: PartsHooks): RuntimeParts {
  const { options, kv, logger } = init;
  const metrics = new NodeMetrics();
  const proposals = new Proposals(options.requestTimeoutMs, () => metrics.proposalsFailed++);
  const peers = new Peers(options.id, options.electionMs, hooks.transport);
  const refusals = new Refusals(options.id, () => hooks.core().softState());
  const wake = hooks.wake;
  const leadership = new Leadership({
    id: options.id,
    electionMs: options.electionMs,
    heartbeatMs: options.heartbeatMs,
    core: hooks.core,
    peers,
    proposals,
    refusals,
    metrics,
    logger,
    wake,
  });
  const reads = new Reads(
    {
      readIndex: (ctx) => {
        const result = hooks.core().readIndex(ctx);
        wake();
        return result.ok ? null : refusals.noLeaderError();
      },
      applied: () => kv.appliedIndex,
      roundFailed: () => refusals.notLeaderError("leadership changed during the read; retry"),
    },
    {
      timeoutMs: options.requestTimeoutMs,
      roundStaleMs: Math.max(options.electionMs, 3 * options.heartbeatMs),
      prefix: `r${options.id}-${Date.now().toString(36)}-`,
    },
  );
  const requests = new Requests({ core: hooks.core, kv, proposals, reads, peers, refusals, metrics, ensureRunning: hooks.ensureRunning, wake });
  const syncPeers = (): void => peers.syncPeers(hooks.core().status().members);
  const applier = new Applier(
    {
      id: options.id,
      kv,
      proposals,
      refusals,
      metrics,
      logger,
      incarnation: () => init.storage.meta.incarnation,
      softState: () => hooks.core().softState(),
      removalToConfirm: hooks.removalToConfirm,
      syncPeers,
    },
    init.storage.log.snapshotMeta(),
  );
  const saves = new SaveTracker(options.id, init.storage, hooks.closed, wake);
  const snapshotter = new Snapshotter({
    storage: init.storage,
    kv,
    logger,
    metrics,
    isDurable: (index, term) => saves.isDurable(index, term),
    nextSave: () => saves.nextSave(),
    snapshotEntries: options.snapshotEntries,
    snapshotBytes: options.snapshotBytes ?? limits.snapshot_bytes_default,
    appliedBytes: () => applier.appliedBytes,
    snapshotPhase: snapshotPhaseOf(options.id),
    trailingEntries: options.trailingEntries,
    appliedMeta: () => applier.appliedMeta(),
    core: hooks.core,
    transport: hooks.transport,
    wake,
    installed: (meta) => applier.installed(meta),
  });
  const leases = new LeaseKeeper({
    electionMs: options.electionMs,
    kv,
    logger,
    softState: () => hooks.core().softState(),
    propose: (data) => requests.propose(data),
    confirmLeader: () => requests.confirmLeader(),
    notLeaderError: () => refusals.notLeaderError(),
  });
  return { metrics, proposals, reads, peers, refusals, leadership, requests, snapshotter, applier, saves, leases, syncPeers };
}

/**
 * snapshotPhaseOf spreads the replicas' automatic snapshots over the spacing (golden-ratio steps of the node
 * id, scaled to at most 0.9 so the first comes after a tenth of the spacing at least): ids 1, 2, 3 snapshot
 * 0.56, 0.21 and 0.77 of a spacing early the first time, and stay that far apart. Three nodes writing an
 * image at the same index all slowed down at once, on the leader and on the follower a commit waits for.
 */
export function snapshotPhaseOf(id: number): number {
  const golden = (id * 0.6180339887498949) % 1;
  return 0.9 * golden;
}

/** coreConfig: the core's configuration from the node's options and what storage holds. */
export function coreConfig(options: NodeOptions, storage: Storage, appliedIndex: number): RaftConfig {
  const log = storage.log;
  const hs = log.hardState();
  const snapIndex = log.snapshotMeta().index;
  return {
    id: options.id,
    log,
    // The loaded snapshot is committed whatever the stored commit says (commit-only updates are written lazily).
    hardState: { ...hs, commit: Math.max(hs.commit, snapIndex) },
    applied: appliedIndex,
    electionTicks: Math.max(2, Math.round(options.electionMs / options.heartbeatMs)),
    heartbeatTicks: 1,
    rand: createRand(crypto.getRandomValues(new Uint32Array(1))[0]!),
    preVote: true,
    checkQuorum: true,
    maxInflight: limits.inflight_messages_max,
    maxBytesPerMessage: limits.append_bytes_max,
    maxEntriesPerMessage: limits.append_entries_max,
    maxUncommittedEntries: limits.uncommitted_entries_max,
  };
}
