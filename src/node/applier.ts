import type { ConsolaInstance } from "consola";
import type { KvResponse, KvStateMachine } from "../kv/index.ts";
import { applyConfChange } from "../raft/index.ts";
import type { ConfChange, ConfState, Entry, NodeId, SnapshotMeta } from "../raft/types.ts";
import type { SoftState } from "../raft/soft_state.ts";
import { stamp, TracePoint, tracing } from "../shared/trace.ts";
import { judgeOwnRemoval } from "./incarnation.ts";
import type { NodeMetrics } from "./metrics.ts";
import type { Proposals } from "./proposals.ts";
import type { Refusals } from "./refusals.ts";
import { describeConf } from "./status.ts";

export interface ApplierContext {
  id: NodeId;
  kv: KvStateMachine;
  proposals: Proposals;
  refusals: Refusals;
  metrics: NodeMetrics;
  logger: ConsolaInstance;
  /** incarnation: this data directory's (meta.json); judges a removal of our id (incarnation.ts). */
  incarnation(): string;
  softState(): SoftState;
  /** removalToConfirm: a removal of this id that names no incarnation was applied; ask the leader. */
  removalToConfirm(index: number): void;
  /** syncPeers: the configuration was replaced (a snapshot): the transport's address table follows it. */
  syncPeers(): void;
}

/**
 * Applier is the apply side of the Ready loop, kept apart from it so the loop reads as the Ready contract
 * alone: committed entries go into the map (conf entries into the applied configuration), each answer goes
 * to the request waiting on it, and it remembers what a snapshot taken now covers (the term and configuration
 * of the last applied entry). It decides nothing about durability: the loop hands it entries already
 * committed on a majority.
 */
export class Applier {
  /** conf/term describe the last applied entry (the map's index is the third part): what a snapshot covers. */
  private conf: ConfState;
  private term: number;
  /** replayedUpTo: the commit index at start; applying up to it replays our own history (logged as debug). */
  private replayedUpTo = 0;
  /** appliedBytes: command bytes applied by this process (replay included); the snapshotter's byte trigger reads it. */
  appliedBytes = 0;
  /** removed: this node applied its own removal; the loop stops after this Ready. */
  removed = false;

  constructor(
    private readonly context: ApplierContext,
    start: SnapshotMeta,
  ) {
    this.conf = start.conf;
    this.term = start.term;
  }

  /** appliedConf: the configuration of the last applied entry. */
  get appliedConf(): ConfState {
    return this.conf;
  }

  /** appliedMeta: index, term and configuration of the last applied entry (what a snapshot now covers). */
  appliedMeta(): SnapshotMeta {
    return { index: this.context.kv.appliedIndex, term: this.term, conf: this.conf };
  }

  /** replayUpTo: entries up to `commit` (the commit index the core starts from) are history, not events. */
  replayUpTo(commit: number): void {
    this.replayedUpTo = commit;
  }

  /** leaderHint: the details of an overwritten proposal's error; one function, not a closure per applied entry. */
  private readonly leaderHint = (): Record<string, unknown> => this.context.refusals.leaderDetails();

  apply(entries: Entry[]): void {
    const { kv, proposals } = this.context;
    for (const e of entries) {
      if (tracing) stamp(TracePoint.applied, e.index);
      let response: KvResponse | null = null;
      if (e.kind === "normal") {
        this.appliedBytes += e.data.length;
        response = kv.applyEntry(e.index, e.data);
      } else {
        kv.skip(e.index);
        if (e.kind === "conf") this.applyConf(e.change, e.index);
      }
      this.term = e.term;
      proposals.applied(e.index, e.term, this.leaderHint, response);
    }
    this.context.metrics.entriesApplied += entries.length;
  }

  /** installed: a received snapshot replaced the map; the proposals it covers are answered by it. */
  installed(meta: SnapshotMeta): void {
    this.conf = meta.conf;
    this.term = meta.term;
    this.context.proposals.coveredBySnapshot(meta.index);
    this.context.syncPeers();
  }

  private applyConf(change: ConfChange, index: number): void {
    const logger = this.context.logger;
    const before = this.conf;
    this.conf = applyConfChange(before, change);
    if (this.conf === before) {
      logger.warn(`conf change at ${index} ignored (${change.type} ${change.id}: not valid for the configuration)`);
      return;
    }
    const where = change.type === "remove" ? "" : ` (raft ${change.raftAddr}, http ${change.httpAddr})`;
    const what = { add_learner: "added as learner", promote: "promoted to voter", remove: "removed", update_addr: "address updated" }[change.type];
    // Entries replayed from our own log at start are history, not events.
    const line = `membership: node ${change.id} ${what}${where} at index ${index}; members now ${describeConf(this.conf)}`;
    if (index <= this.replayedUpTo) logger.debug(line);
    else logger.info(line);
    if (change.type === "remove" && change.id === this.context.id) this.ownRemoval(change, index);
  }

  /**
   * ownRemoval: a committed entry removes this node's id. The node acts on it only when it is the cluster's
   * configuration now, never on the removal of an earlier incarnation it replays after rejoining (incarnation.ts).
   */
  private ownRemoval(change: ConfChange, index: number): void {
    const { id, logger } = this.context;
    const verdict = judgeOwnRemoval(change.incarnation, this.context.incarnation(), this.context.softState().membership.member(id));
    if (verdict === "removed") this.removed = true;
    else if (verdict === "confirm") this.context.removalToConfirm(index);
    else logger.debug(`the removal of node ${change.id} at index ${index} is history (an earlier incarnation, or re-added since)`);
  }
}
