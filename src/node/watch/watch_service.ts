import type { ConsolaInstance } from "consola";
import { assert } from "../../shared/assert.ts";
import { QklzlError } from "../../shared/errors.ts";
import type { Watch, WatchCancelReason, WatchHub, WatchSpec } from "../../kv/watch_hub.ts";

export interface WatchServiceOptions {
  /** streamsMax: watches open at once on this node (limits.watch_streams_max). */
  streamsMax: number;
  /**
   * barrier resolves once this node applied up to the leader's commit index as of now (a ReadIndex read):
   * a watch on a lagging follower must not start in the past of what the client already read
   * (etcd-io/etcd#15271). It throws no_leader / no_quorum / timeout when that cannot be known.
   */
  barrier(key: string): Promise<void>;
  logger: ConsolaInstance;
}

/**
 * WatchService is the node's side of watch: the count of open watches (bounded), the read barrier before a
 * watch starts, and the lookup of a watch by id for progress requests. The hub does the rest.
 */
export class WatchService {
  private readonly open = new Map<number, Watch>();
  /** pending: watches past the count check, still waiting for their barrier. */
  private pending = 0;
  private closing = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly options: WatchServiceOptions,
  ) {
    assert(options.streamsMax > 0, "watch: a positive stream limit");
  }

  get size(): number {
    return this.open.size;
  }

  /** start waits for the barrier, then creates the watch; release() must follow, whatever happens next. */
  async start(spec: WatchSpec): Promise<Watch> {
    if (this.closing) throw new QklzlError("shutting_down", "the node is shutting down; watch another member");
    if (this.open.size + this.pending >= this.options.streamsMax) {
      throw new QklzlError("too_many_watches", `this node already serves ${this.options.streamsMax} watches (the maximum); watch another member or retry later`, {
        limit: this.options.streamsMax,
      });
    }
    this.pending++;
    try {
      await this.options.barrier(spec.key);
    } finally {
      this.pending--;
    }
    if (this.closing) throw new QklzlError("shutting_down", "the node is shutting down; watch another member");
    const watch = this.hub.watch(spec);
    this.open.set(watch.id, watch);
    return watch;
  }

  /** release cancels a watch (its client went away or its stream ended). Idempotent. */
  release(watch: Watch): void {
    watch.cancel();
    this.open.delete(watch.id);
  }

  /** progress asks watch `id` for a progress header (false: no such watch here). */
  progress(id: number): boolean {
    const watch = this.open.get(id);
    if (watch === undefined) return false;
    watch.requestProgress();
    return true;
  }

  /** metricLines: Prometheus gauges and counters of the watches on this node. */
  metricLines(): string[] {
    return [
      "# HELP qklzl_watches Watch streams open on this node.",
      "# TYPE qklzl_watches gauge",
      `qklzl_watches ${this.open.size}`,
      "# HELP qklzl_watch_fell_behind_total Watches whose buffer filled up, sent back to catching up from history.",
      "# TYPE qklzl_watch_fell_behind_total counter",
      `qklzl_watch_fell_behind_total ${this.hub.fellBehind}`,
      "# HELP qklzl_watch_compacted_total Watches cancelled because the history they needed was compacted.",
      "# TYPE qklzl_watch_compacted_total counter",
      `qklzl_watch_compacted_total ${this.hub.compactedCancels}`,
    ];
  }

  /** closeAll ends every watch with a cancel message (the node is stopping: clients move to another member). */
  closeAll(reason: WatchCancelReason, message: string): void {
    this.closing = true;
    if (this.open.size > 0) this.options.logger.info(`closing ${this.open.size} watches: ${message}`);
    this.hub.closeAll(reason, message);
  }
}
