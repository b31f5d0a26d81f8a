import type { ConsolaInstance } from "consola";
import type { RaftCore } from "../raft/index.ts";
import type { NodeId, Role } from "../raft/types.ts";
import { QklzlError } from "../shared/errors.ts";
import type { NodeMetrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import type { Proposals } from "./proposals.ts";
import type { Refusals } from "./refusals.ts";

/** A voter within this many entries of the leader's commit index may take over leadership on a stop. */
const handover_lag_entries_max = 100;

interface TransferWaiter {
  target: NodeId;
  deadline: number;
  resolve(): void;
  reject(error: QklzlError): void;
}

export interface LeadershipContext {
  id: NodeId;
  electionMs: number;
  heartbeatMs: number;
  core(): RaftCore;
  peers: Peers;
  proposals: Proposals;
  refusals: Refusals;
  metrics: NodeMetrics;
  logger: ConsolaInstance;
  wake(): void;
}

/**
 * Leadership watches the core's role and leader (logs and counts their changes, cuts the deadlines of our
 * proposals when we stop leading) and runs leadership transfers: on request, and as a hand-over before this
 * leader stops or leaves.
 */
export class Leadership {
  private seenRole: Role = "follower";
  private seenLeader: NodeId = 0;
  private transferWaiters: TransferWaiter[] = [];
  /** lastLeaderAt: when a leader was last known (the removal check waits for a long silence). */
  lastLeaderAt = 0;

  constructor(private readonly context: LeadershipContext) {}

  /** observe logs and counts role and leader changes, and settles leadership transfers. */
  observe(): void {
    const { id, metrics, logger } = this.context;
    const soft = this.context.core().softState();
    const now = performance.now();
    if (soft.leaderId !== 0) this.lastLeaderAt = now;
    if (soft.role !== this.seenRole) {
      if (soft.role === "candidate") metrics.elections++;
      if (soft.role === "candidate") logger.info(`election: campaigning in term ${soft.term}`);
      if (soft.role === "leader") logger.info(`became leader in term ${soft.term}`);
      if (this.seenRole === "leader") {
        logger.info(`stepped down in term ${soft.term} (leader now ${soft.leaderId || "unknown"})`);
        this.context.proposals.leadershipLost(this.context.electionMs);
      }
      this.seenRole = soft.role;
    }
    if (soft.leaderId !== this.seenLeader) {
      if (soft.leaderId !== 0) {
        metrics.leaderChanges++;
        if (soft.leaderId !== id) logger.info(`leader is node ${soft.leaderId} (term ${soft.term})`);
      }
      this.seenLeader = soft.leaderId;
    }
    if (this.transferWaiters.length > 0) this.settleTransfers(now);
  }

  private settleTransfers(now: number): void {
    const leader = this.context.core().softState().leaderId;
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
    if (this.context.core().softState().leaderId === target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.transferWaiters.push({ target, deadline: performance.now() + timeoutMs, resolve, reject });
    });
  }

  /** transferLeader hands leadership to voter `id` and resolves once it leads (the caller checked we lead). */
  async transferLeader(id: NodeId): Promise<void> {
    const { core, refusals, logger } = this.context;
    const result = core().transferLeadership(id);
    if (!result.ok) {
      if (result.error === "transfer_in_progress") throw new QklzlError("transfer_in_progress", "another leadership transfer is in progress");
      if (result.error === "unknown_member") throw new QklzlError("unknown_member", `node ${id} is not a voting member`);
      throw refusals.notLeaderError();
    }
    this.context.wake();
    logger.info(`transferring leadership to node ${id}`);
    await this.waitForLeader(id, 2 * this.context.electionMs + this.context.heartbeatMs * 5);
  }

  /**
   * handOver: as leader, transfer leadership to the most caught-up voter and wait (bounded) for it. Only a
   * voter heard from recently and caught up (within handover_lag_entries_max of the commit index) qualifies:
   * a learner cannot lead, and a voter far behind would need the whole transfer window to catch up first.
   */
  async handOver(timeoutMs: number, why: string): Promise<void> {
    const core = this.context.core();
    if (core.softState().role !== "leader") return;
    const s = core.status();
    const candidates = s.members
      .filter((m) => m.role === "voter" && m.id !== this.context.id && this.context.peers.recentlyHeard(m.id))
      .filter((m) => m.matchIndex + handover_lag_entries_max >= s.commit)
      .sort((a, b) => b.matchIndex - a.matchIndex);
    const target = candidates[0];
    if (target === undefined) {
      const others = s.members.filter((m) => m.role === "voter" && m.id !== this.context.id).length;
      if (others > 0) this.context.logger.warn(`no caught-up voter to hand leadership to ${why}: the others elect a leader after an election timeout`);
      return;
    }
    const result = core.transferLeadership(target.id);
    this.context.wake();
    if (!result.ok) return;
    this.context.logger.info(`handing leadership to node ${target.id} ${why}`);
    try {
      await this.waitForLeader(target.id, timeoutMs);
    } catch {
      this.context.logger.warn(`leadership transfer to node ${target.id} did not finish in ${timeoutMs} ms`);
    }
  }

  /** failAll rejects the transfers still waiting (shutdown). */
  failAll(error: QklzlError): void {
    for (const w of this.transferWaiters) w.reject(error);
    this.transferWaiters = [];
  }
}
