import { PeriodicRetention, encodeRequest, type AutoCompaction } from "../kv/index.ts";
import type { NodeRuntime } from "./runtime.ts";

/** The part of the runtime the compactor uses. */
type CompactorRuntime = Pick<NodeRuntime, "propose" | "softState" | "logger" | "stopping">;

/** The store revisions the compactor reads (the local state machine). */
interface RevisionSource {
  readonly revision: number;
  readonly compactedRevision: number;
}

/**
 * PeriodicCompactor is --auto-compaction-mode periodic: every node samples its store revision on the tick
 * clock; the leader proposes a compact entry to the revision it sampled a retention ago, so that every replica
 * compacts at that same revision through the log (time is not replicated). One proposal at a time; after a
 * failed one (leadership lost, timeout) the next waits a sampling interval; none while the node stops. Revision mode needs none of this: the store
 * compacts inside apply.
 */
export class PeriodicCompactor {
  private readonly retention: PeriodicRetention;
  private pending = false;
  /** retryAt: after a failed proposal, the next one waits an interval (no proposal storm while leadership moves). */
  private retryAt = 0;

  constructor(
    private readonly rt: CompactorRuntime,
    private readonly kv: RevisionSource,
    retentionMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.retention = new PeriodicRetention(retentionMs);
  }

  /** forNode: a compactor for periodic mode, null for revision mode. */
  static forNode(rt: CompactorRuntime, kv: RevisionSource, auto: AutoCompaction): PeriodicCompactor | null {
    return auto.mode === "periodic" ? new PeriodicCompactor(rt, kv, auto.retentionMs) : null;
  }

  tick(): void {
    const now = this.now();
    this.retention.observe(now, this.kv.revision);
    if (this.pending || this.rt.stopping || now < this.retryAt || this.rt.softState().role !== "leader") return;
    const target = this.retention.target(now, this.kv.compactedRevision);
    if (target === null) return;
    this.pending = true;
    this.rt
      .propose(encodeRequest({ kind: "compact", compact: { revision: target } }))
      .then(() => this.rt.logger.info(`auto compaction (periodic, ${this.retention.retentionMs} ms): compacted at revision ${target}`))
      .catch((error: unknown) => {
        this.retryAt = this.now() + this.retention.intervalMs;
        if (!this.rt.stopping) this.rt.logger.warn(`auto compaction at revision ${target} not done: ${error instanceof Error ? error.message : String(error)}`);
      })
      .finally(() => {
        this.pending = false;
      });
  }
}
