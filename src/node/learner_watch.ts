import type { ConsolaInstance } from "consola";
import type { NodeId } from "../raft/types.ts";

/** SilentLearner: a learner the leader has not heard from for at least the learner timeout. */
export interface SilentLearner {
  id: NodeId;
  /** silentMs: since the leader last heard from it (or since this node leads, if never). */
  silentMs: number;
}

/**
 * LearnerWatch is the leader's memory of when it last heard from each learner. A learner that stays silent
 * for `timeoutMs` (it never caught up, or was wiped or stopped and never came back) is never promoted and adds
 * no fault tolerance, so it is reported in /status and /metrics and logged once, and again when it is heard.
 * It keeps its own last-heard times: the runtime forgets a peer's on a refused connection.
 */
export class LearnerWatch {
  private readonly lastHeard = new Map<NodeId, number>();
  private readonly reported = new Set<NodeId>();
  private silent: SilentLearner[] = [];

  constructor(
    private readonly timeoutMs: number,
    private readonly log: ConsolaInstance,
  ) {}

  /**
   * observe runs on every tick while this node leads, with the current learners and the runtime's last-heard
   * times. `since` is when this node became leader: silence is never counted from before it led.
   */
  observe(now: number, since: number, learners: readonly NodeId[], heardAt: (id: NodeId) => number | undefined): void {
    const current = new Set(learners);
    for (const id of [...this.lastHeard.keys()]) {
      if (!current.has(id)) this.forget(id);
    }
    const silent: SilentLearner[] = [];
    for (const id of learners) {
      const heard = Math.max(heardAt(id) ?? -Infinity, this.lastHeard.get(id) ?? -Infinity, since);
      this.lastHeard.set(id, heard);
      const silentMs = now - heard;
      if (silentMs >= this.timeoutMs) {
        silent.push({ id, silentMs: Math.round(silentMs) });
        if (!this.reported.has(id)) {
          this.reported.add(id);
          this.log.warn(
            `learner ${id} not heard from for ${(silentMs / 1000).toFixed(1)} s: it is not caught up and will not be promoted; ` +
              `start it again, or remove it with \`qklzl leave ${id}\``,
          );
        }
      } else if (this.reported.delete(id)) {
        this.log.info(`learner ${id} is heard from again`);
      }
    }
    this.silent = silent;
  }

  /** reset: this node no longer leads; a new term starts counting afresh. */
  reset(): void {
    this.lastHeard.clear();
    this.reported.clear();
    this.silent = [];
  }

  /** silentLearners: as of the last observe (empty on a node that does not lead). */
  silentLearners(): SilentLearner[] {
    return this.silent;
  }

  private forget(id: NodeId): void {
    this.lastHeard.delete(id);
    this.reported.delete(id);
  }
}
