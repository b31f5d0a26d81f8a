import type { NodeId, TestFaults } from "../../src/raft/types.ts";
import { SimViolation } from "./checker.ts";
import { type ClusterStats, SimCluster, type SimDriver } from "./cluster.ts";
import { type PartitionKind, type SimConfig, mixedConfig } from "./configs.ts";
import { MembershipDriver } from "./membership_driver.ts";

export interface RunOptions {
  /** faults to plant in every core (the "can the checker fail?" tests). */
  faults?: TestFaults;
  trace?: boolean;
  /** ticks overrides the config's safety-phase length. */
  ticks?: number;
  /** plantForgetVote: the harness's own planted bug (see ClusterOptions). */
  plantForgetVote?: boolean;
  /** plantSkipRevision: the harness's planted store bug (see ClusterOptions). */
  plantSkipRevision?: boolean;
  /** driver: how the cores' Readys are handled (see SimDriver; "ready" when omitted). */
  driver?: SimDriver;
}

export interface SeedResult {
  config: string;
  seed: number;
  ok: boolean;
  /** failure: the violation or crash, one line. */
  failure: string | null;
  /** kind: "safety" (an invariant), "liveness" (no progress once healed), "crash" (an exception). */
  kind: "safety" | "liveness" | "crash" | null;
  ticks: number;
  stats: ClusterStats;
  leaderTerms: number;
  committedIndex: number;
  trace: string[];
}

/** replayCommand is the one line that reproduces a run. */
export function replayCommand(config: string, seed: number, faults?: TestFaults, ticks?: number, driver: SimDriver = "ready"): string {
  const planted = Object.entries(faults ?? {})
    .filter(([, on]) => on)
    .map(([name]) => ` --fault ${name}`)
    .join("");
  return `bun run sim --seed ${seed} --config ${config} --driver ${driver}${planted}${ticks === undefined ? "" : ` --ticks ${ticks}`}`;
}

/**
 * runSeed runs one configuration with one seed: a safety phase with faults and clients, then a
 * liveness phase (everything healed: a leader must commit a new write and every member catch up).
 */
export function runSeed(given: SimConfig, seed: number, options: RunOptions = {}): SeedResult {
  const config = given.mix ? mixedConfig(seed) : given;
  const core = { ...config.cluster.core, faults: options.faults };
  const cluster = new SimCluster({ ...config.cluster, core, seed, trace: options.trace, plantForgetVote: options.plantForgetVote, plantSkipRevision: options.plantSkipRevision, driver: options.driver });
  let failure: string | null = null;
  let kind: SeedResult["kind"] = null;
  try {
    const workload = new Workload(cluster, config);
    workload.safetyPhase(options.ticks ?? config.ticks);
    failure = workload.livenessPhase();
    if (failure) kind = "liveness";
  } catch (error) {
    kind = error instanceof SimViolation ? "safety" : "crash";
    failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    if (kind === "crash" && error instanceof Error && options.trace) cluster.trace(error.stack ?? "");
  }
  return {
    config: config.name,
    seed,
    ok: failure === null,
    failure,
    kind,
    ticks: cluster.now,
    stats: cluster.stats,
    leaderTerms: cluster.checker.leaderTerms,
    committedIndex: cluster.checker.committed.length - 1,
    trace: cluster.traceDump(),
  };
}

/** LIVENESS_CAP_BUDGETS: however steady the progress, liveness must conclude within this many budgets. */
const LIVENESS_CAP_BUDGETS = 20;

/** maxCommit is the highest commit index any up node knows. */
function maxCommit(c: SimCluster): number {
  let commit = 0;
  for (const node of c.nodes.values()) commit = Math.max(commit, node.core?.log.committed ?? 0);
  return commit;
}

/**
 * progressOf grows while the cluster gets anywhere: commit advancing, or logs filling up towards
 * `horizon` (a new leader's entry cannot commit before a lagging majority has replicated up to it).
 * Entries beyond the horizon (the longest log when healing) do not count: a leader's own log grows
 * with every retried proposal, which is no progress.
 */
function progressOf(c: SimCluster, horizon: number): number {
  let replicated = 0;
  for (const node of c.nodes.values()) if (node.core) replicated += Math.min(node.core.log.lastIndex(), horizon);
  return maxCommit(c) + replicated;
}

function longestLog(c: SimCluster): number {
  let last = 0;
  for (const node of c.nodes.values()) last = Math.max(last, node.core?.log.lastIndex() ?? 0);
  return last;
}

/** Workload is the random schedule of clients and faults for one run. */
class Workload {
  private readonly restarts = new Map<NodeId, number>();
  private healAt = -1;
  private lastLeaderTerm = 0;
  private crashAt: { id: NodeId; at: number } | null = null;
  private readonly membership: MembershipDriver | null;

  constructor(
    private readonly c: SimCluster,
    private readonly config: SimConfig,
  ) {
    this.membership = config.membershipRate > 0 ? new MembershipDriver(c, { votersMin: 3, votersMax: 5, addsMax: 4 }) : null;
  }

  safetyPhase(ticks: number): void {
    const { c, config } = this;
    const rng = c.rng;
    for (let i = 0; i < ticks; i++) {
      if (rng.chance(config.proposeRate)) this.clientWrite();
      if (rng.chance(config.readRate)) this.clientRead();
      if (rng.chance(config.crashRate)) this.crashOne();
      this.newLeaderStep();
      this.restartDue();
      this.partitionStep();
      if (rng.chance(config.compactRate)) this.compactOne();
      if (rng.chance(config.transferRate)) this.transfer();
      if (rng.chance(config.campaignRate)) {
        const up = c.upNodes();
        if (up.length > 0) c.campaign(rng.pick(up).id);
      }
      if (this.membership && rng.chance(config.membershipRate)) this.membership.step();
      c.tick();
    }
  }

  /** livenessPhase heals everything; returns a failure line or null. */
  livenessPhase(): string | null {
    const c = this.c;
    // After healing the system is timely (the usual partial-synchrony assumption): a round trip plus a
    // disk write stays well inside an election timeout, or check-quorum would depose every leader.
    c.net.healAll();
    // Links also deliver in order again (TCP): reordering would keep knocking followers back to probing.
    c.net.options = { ...c.net.options, loss: 0, duplicate: 0, longDelay: 0, delayMin: 1, delayMax: 1, fifo: true };
    c.persistTicksMax = Math.min(c.persistTicksMax, 2);
    for (const node of c.nodes.values()) if (!node.up && !node.retired) c.restart(node.id);
    const start = c.now;
    // A backlog of uncommitted entries may take long to replicate under tight limits, so the budget is
    // on progress: commit must advance at least once every livenessTicks, and all within a hard cap.
    const budget = this.config.livenessTicks;
    const cap = start + LIVENESS_CAP_BUDGETS * budget;
    let index = -1;
    const horizon = longestLog(c);
    for (let best = progressOf(c, horizon); index < 0; ) {
      index = c.commitOne(`live-${c.now}`, 1, budget);
      const now = progressOf(c, horizon);
      if (index < 0 && (now <= best || c.now > cap)) {
        return `liveness: no write committed within ${c.now - start} ticks after healing, neither commit (${maxCommit(c)}) nor replication moved for ${budget} (leader: ${c.leader()?.id ?? "none"}, term ${c.maxTerm()})`;
      }
      best = now;
    }
    const members = (): NodeId[] => {
      const leader = c.leader();
      return leader?.core ? leader.core.status().members.map((m) => m.id) : [];
    };
    const caughtUp = () => {
      const ids = members();
      return ids.length > 0 && ids.every((id) => c.node(id).applied >= index);
    };
    const slowest = () => Math.min(...members().map((id) => c.node(id).applied));
    let caught = false;
    for (let best = -1; !caught && slowest() > best && c.now <= cap; ) {
      best = slowest();
      caught = c.runUntil(caughtUp, budget);
    }
    if (!caught) {
      const lag = members()
        .map((id) => `n${id}@${c.node(id).applied}`)
        .join(" ");
      return `liveness: members stopped catching up to ${index} (${lag}; ${c.now - start} ticks after healing, budget ${budget} per step)`;
    }
    // Reads work again too: a read on every member (followers forward it) is served; like a client,
    // retry one that was refused (no leader known yet) or failed (leadership moved).
    const reads = new Map<NodeId, string | null>();
    const served = () => {
      const ids = members();
      for (const id of ids) {
        const ctx = reads.get(id) ?? null;
        if (ctx === null || c.readOutcome(ctx) === "failed") reads.set(id, c.read(id));
      }
      return ids.length > 0 && ids.every((id) => {
        const ctx = reads.get(id) ?? null;
        return ctx !== null && c.readOutcome(ctx) === "served";
      });
    };
    if (!c.runUntil(served, this.config.livenessTicks)) {
      const outcomes = [...reads].map(([id, ctx]) => `n${id}:${ctx === null ? "refused" : c.readOutcome(ctx)}`).join(" ");
      return `liveness: reads on every member were not all served within ${this.config.livenessTicks} ticks after healing (${outcomes})`;
    }
    return null;
  }

  private clientWrite(): void {
    const c = this.c;
    const up = c.upNodes();
    if (up.length === 0) return;
    const result = c.propose(c.rng.pick(up).id);
    if (!result.ok && result.leaderId !== 0 && c.nodes.get(result.leaderId)?.up) c.propose(result.leaderId);
  }

  private clientRead(): void {
    const up = this.c.upNodes();
    if (up.length > 0) this.c.read(this.c.rng.pick(up).id);
  }

  private crashOne(): void {
    const c = this.c;
    const up = c.upNodes();
    if (up.length === 0) return;
    const leader = c.leader();
    const victim = leader && c.rng.chance(this.config.leaderCrashBias) ? leader : c.rng.pick(up);
    c.crash(victim.id);
    const [lo, hi] = this.config.restartAfter;
    this.restarts.set(victim.id, c.now + c.rng.between(lo, hi));
  }

  /** newLeaderStep: a leader of a term not seen before may crash a few ticks into its reign. */
  private newLeaderStep(): void {
    const { c, config } = this;
    if (config.newLeaderCrash <= 0) return;
    const leader = c.leader();
    const term = leader?.core?.term ?? 0;
    if (leader && term > this.lastLeaderTerm) {
      this.lastLeaderTerm = term;
      if (c.rng.chance(config.newLeaderCrash)) this.crashAt = { id: leader.id, at: c.now + c.rng.between(0, 6) };
    }
    if (this.crashAt && this.crashAt.at <= c.now) {
      const id = this.crashAt.id;
      this.crashAt = null;
      if (!c.node(id).up) return;
      c.crash(id);
      const [lo, hi] = config.restartAfter;
      this.restarts.set(id, c.now + c.rng.between(lo, hi));
    }
  }

  private restartDue(): void {
    for (const [id, at] of this.restarts) {
      if (at > this.c.now) continue;
      this.restarts.delete(id);
      this.c.restart(id);
    }
  }

  private partitionStep(): void {
    const { c, config } = this;
    if (this.healAt >= 0) {
      if (c.now >= this.healAt) {
        c.net.healAll();
        this.healAt = -1;
        c.trace("heal");
      }
      return;
    }
    if (config.partitionKinds.length === 0 || !c.rng.chance(config.partitionRate)) return;
    this.partition(c.rng.pick(config.partitionKinds));
    const [lo, hi] = config.healAfter;
    this.healAt = c.now + c.rng.between(lo, hi);
  }

  private partition(kind: PartitionKind): void {
    const c = this.c;
    const ids = c.ids().filter((id) => !c.node(id).retired);
    const victim = kind === "isolate_leader" ? (c.leader()?.id ?? c.rng.pick(ids)) : c.rng.pick(ids);
    switch (kind) {
      case "split": {
        const shuffled = c.rng.shuffle([...ids]);
        const k = c.rng.between(1, Math.max(1, Math.floor(ids.length / 2)));
        c.net.split([shuffled.slice(0, k), shuffled.slice(k)]);
        c.trace(`split ${shuffled.slice(0, k).join(",")} | ${shuffled.slice(k).join(",")}`);
        return;
      }
      case "isolate_leader":
        c.net.isolate(victim, ids);
        break;
      case "one_way": {
        const others = ids.filter((id) => id !== victim);
        if (others.length > 0) c.net.block(victim, c.rng.pick(others));
        break;
      }
      case "mute":
        for (const id of ids) if (id !== victim) c.net.block(victim, id);
        break;
      case "deafen":
        for (const id of ids) if (id !== victim) c.net.block(id, victim);
        break;
    }
    c.trace(`partition ${kind} n${victim}`);
  }

  private compactOne(): void {
    const up = this.c.upNodes();
    if (up.length > 0) this.c.compact(this.c.rng.pick(up).id);
  }

  private transfer(): void {
    const c = this.c;
    const leader = c.leader();
    if (!leader?.core) return;
    const voters = leader.core
      .status()
      .members.filter((m) => m.role === "voter" && m.id !== leader.id)
      .map((m) => m.id);
    if (voters.length === 0) return;
    c.transfer(leader.id, c.rng.pick(voters));
  }
}
