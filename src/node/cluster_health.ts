import type { NodeId } from "../raft/types.ts";
import type { HealthStatusJson } from "./api.ts";
import { fetchStatus } from "./cluster_client.ts";
import { describeFigure, leaderFaultTolerance, stopCostsQuorum, type ToleranceFigure } from "./fault_tolerance.ts";
import { LearnerWatch } from "./learner_watch.ts";
import type { NodeRuntime } from "./runtime.ts";
import { describeConf } from "./status.ts";

/** default_learner_timeout_ms: `--learner-timeout-ms` when not given. */
export const default_learner_timeout_ms = 30_000;

/** RelayedFigure: the leader's fault tolerance as its /status last said, fetched by a follower. */
interface RelayedFigure {
  leaderId: NodeId;
  faultTolerance: number;
  at: number;
}

/**
 * ClusterHealth answers "can the cluster lose another node?" for this node's /status and /metrics, reports
 * learners the leader has not heard from, logs a joining node's promotion once it is real, and says before
 * a stop whether it costs the quorum. It only reads the runtime; it runs on the heartbeat clock.
 *
 * The figure (README, "Fault tolerance"): on the leader, the voters it heard from within one election timeout
 * (itself included) minus a quorum; on any other node, the leader's figure relayed from the leader's /status
 * (fetched once per election timeout, used while younger than three of them); 0 when neither is known.
 */
export class ClusterHealth {
  private readonly learners: LearnerWatch;
  private relayed: RelayedFigure | null = null;
  private relayBusy = false;
  private relayNextAt = 0;
  private leadingSince: number | null = null;
  /**
   * wasLearner: this process joined on an empty data dir or saw itself as a learner, so becoming a voter is
   * news worth a line (a snapshot may bring the promotion without the learner state ever being applied).
   */
  private wasLearner: boolean;
  private announcedVoter = false;

  constructor(
    private readonly rt: NodeRuntime,
    options: { joining: boolean },
  ) {
    this.wasLearner = options.joining;
    this.learners = new LearnerWatch(rt.options.learnerTimeoutMs ?? default_learner_timeout_ms, rt.logger);
  }

  tick(): void {
    const rt = this.rt;
    if (rt.stopping) return;
    const now = performance.now();
    this.noteOwnPromotion();
    if (rt.softState().role === "leader") {
      this.leadingSince ??= now;
      this.relayed = null;
      this.learners.observe(now, this.leadingSince, rt.softState().membership.learners, (id) => rt.lastHeardAt(id));
      return;
    }
    if (this.leadingSince !== null) {
      this.leadingSince = null;
      this.learners.reset();
    }
    this.relayLeaderFigure(now);
  }

  /** figure: this node's own figure when it leads, else null (see relayedFigure). */
  leaderFigure(): ToleranceFigure | null {
    const rt = this.rt;
    if (rt.softState().role !== "leader") return null;
    return leaderFaultTolerance(rt.softState().membership.voters, rt.options.id, (id) => rt.recentlyHeard(id));
  }

  /** status: the fields this adds to GET /status (after the existing ones). */
  status(): HealthStatusJson {
    const rt = this.rt;
    const role = rt.softState().membership.member(rt.options.id)?.role ?? "none";
    const own = this.leaderFigure();
    const relayed = this.freshRelayed();
    const source = own !== null ? "leader" : relayed !== null ? "relayed" : "unknown";
    return {
      role,
      fault_tolerance: own?.faultTolerance ?? relayed?.faultTolerance ?? 0,
      fault_tolerance_source: source,
      silent_learners: this.learners.silentLearners().map((l) => ({ id: l.id, silent_ms: l.silentMs })),
    };
  }

  /** metricLines: Prometheus gauges for the same figures. */
  metricLines(): string[] {
    const s = this.status();
    const lines = [
      "# HELP qklzl_fault_tolerance Voters that may still fail before writes stop (0: the next failure stops them).",
      "# TYPE qklzl_fault_tolerance gauge",
      `qklzl_fault_tolerance ${s.fault_tolerance}`,
      "# HELP qklzl_learners_silent Learners the leader has not heard from for --learner-timeout-ms.",
      "# TYPE qklzl_learners_silent gauge",
      `qklzl_learners_silent ${s.silent_learners.length}`,
      "# HELP qklzl_learner_silent_seconds Seconds since the leader heard from a silent learner.",
      "# TYPE qklzl_learner_silent_seconds gauge",
    ];
    for (const l of s.silent_learners) lines.push(`qklzl_learner_silent_seconds{id="${l.id}"} ${l.silent_ms / 1000}`);
    return lines;
  }

  /** warnIfStopCostsQuorum: called as a stop begins; one warning line when stopping this voter stops writes. */
  warnIfStopCostsQuorum(): void {
    const rt = this.rt;
    const isVoter = rt.softState().membership.isVoter(rt.options.id);
    const own = this.leaderFigure();
    if (own !== null) {
      if (stopCostsQuorum(own, isVoter)) {
        rt.logger.warn(
          `stopping node ${rt.options.id} costs the quorum (${describeFigure(own)}): writes stop until enough voters are back`,
        );
      }
      return;
    }
    const relayed = this.freshRelayed();
    if (isVoter && relayed !== null && relayed.faultTolerance === 0) {
      rt.logger.warn(`stopping node ${rt.options.id} may cost the quorum: leader ${relayed.leaderId} reports fault tolerance 0`);
    }
  }

  private freshRelayed(): RelayedFigure | null {
    const r = this.relayed;
    if (r === null || r.leaderId !== this.rt.softState().leaderId) return null;
    return performance.now() - r.at <= 3 * this.rt.options.electionMs ? r : null;
  }

  /** relayLeaderFigure: a follower asks the leader's /status for its figure, once per election timeout. */
  private relayLeaderFigure(now: number): void {
    const rt = this.rt;
    const leaderId = rt.softState().leaderId;
    const leader = leaderId === 0 ? undefined : rt.softState().membership.member(leaderId);
    if (leader === undefined || leader.httpAddr === "" || this.relayBusy || now < this.relayNextAt) return;
    this.relayBusy = true;
    this.relayNextAt = now + rt.options.electionMs;
    fetchStatus(leader.httpAddr, Math.min(rt.options.requestTimeoutMs, rt.options.electionMs), rt.memberHttp)
      .then((status) => {
        const figure = (status as (typeof status & Partial<HealthStatusJson>) | null)?.fault_tolerance;
        if (status === null || !status.is_leader || status.id !== leaderId || typeof figure !== "number") return;
        this.relayed = { leaderId, faultTolerance: figure, at: performance.now() };
      })
      .finally(() => {
        this.relayBusy = false;
      });
  }

  /** noteOwnPromotion: a node that joined as a learner says "joined as voter" once its promotion applied. */
  private noteOwnPromotion(): void {
    const rt = this.rt;
    if (this.announcedVoter) return;
    const self = rt.appliedConfState.members.find((m) => m.id === rt.options.id);
    if (self?.role === "learner") this.wasLearner = true;
    if (self?.role !== "voter") return;
    this.announcedVoter = true;
    // A restarted voter (never a learner in this process) says nothing: it did not just join.
    if (this.wasLearner) rt.logger.success(`joined as voter (members ${describeConf(rt.appliedConfState)})`);
  }
}
