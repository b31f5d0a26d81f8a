import type { ClusterOptions } from "./cluster.ts";
import type { NetworkOptions } from "./network.ts";
import type { CoreOptions } from "./node.ts";
import { SimRng } from "./rng.ts";

export type PartitionKind = "split" | "isolate_leader" | "one_way" | "mute" | "deafen";

/** SimConfig is one named kind of random run: a cluster shape plus a fault and client schedule. */
export interface SimConfig {
  name: string;
  cluster: Omit<ClusterOptions, "seed">;
  /** ticks of the safety phase (faults on); a liveness phase follows. */
  ticks: number;
  /** per-tick probabilities. */
  proposeRate: number;
  readRate: number;
  crashRate: number;
  /** leaderCrashBias: the chance that a crash picks the leader rather than a random node. */
  leaderCrashBias: number;
  /** newLeaderCrash: the chance that a newly elected leader crashes within a few ticks (Figure 8 schedules). */
  newLeaderCrash: number;
  partitionRate: number;
  compactRate: number;
  transferRate: number;
  /** campaignRate: per tick, a random node is told to campaign (learners and removed nodes must refuse). */
  campaignRate: number;
  membershipRate: number;
  /** a crashed node restarts after a random number of ticks in this range. */
  restartAfter: [number, number];
  /** a partition heals after a random number of ticks in this range. */
  healAfter: [number, number];
  partitionKinds: PartitionKind[];
  /** liveness: once healed, a leader must commit a new write within this many ticks, and every member catch up within as many more. */
  livenessTicks: number;
  /** mix: every knob is drawn from the seed (see mixedConfig). */
  mix?: boolean;
}

export const baseCore: CoreOptions = {
  electionTicks: 10,
  heartbeatTicks: 2,
  preVote: true,
  checkQuorum: true,
  maxInflight: 8,
  maxBytesPerMessage: 64,
  maxEntriesPerMessage: 16,
  maxUncommittedEntries: 1000,
};

export const lossyNet: NetworkOptions = { delayMin: 1, delayMax: 3, loss: 0.03, duplicate: 0.03, longDelay: 0.01, longDelayMax: 25 };
export const calmNet: NetworkOptions = { delayMin: 1, delayMax: 2, loss: 0.01, duplicate: 0.01, longDelay: 0, longDelayMax: 0 };
export const chaosNet: NetworkOptions = { delayMin: 1, delayMax: 6, loss: 0.12, duplicate: 0.08, longDelay: 0.05, longDelayMax: 40 };

const base: Omit<SimConfig, "name" | "cluster"> = {
  ticks: 1000,
  proposeRate: 0.4,
  readRate: 0.15,
  crashRate: 0.01,
  leaderCrashBias: 0.3,
  newLeaderCrash: 0,
  partitionRate: 0,
  compactRate: 0.01,
  transferRate: 0,
  campaignRate: 0,
  membershipRate: 0,
  restartAfter: [1, 40],
  healAfter: [10, 60],
  partitionKinds: [],
  livenessTicks: 400,
};

function cluster(voters: number, net: NetworkOptions, core: Partial<CoreOptions> = {}): SimConfig["cluster"] {
  return { voters, core: { ...baseCore, ...core }, net, persistTicksMax: 2 };
}

const allPartitions: PartitionKind[] = ["split", "isolate_leader", "one_way", "mute", "deafen"];

/** configs: every named configuration; the sweep cycles through them. */
/**
 * figure8 (thesis §3.6.2): leaders crash often, one entry per append and no pipelining, so an old term's entry
 * can reach a majority alone, without the new leader's own entry behind it.
 */
function figure8(name: string, voters: number, loss: number): SimConfig {
  return {
    ...base,
    name,
    cluster: cluster(voters, { ...calmNet, delayMax: 4, loss }, { maxEntriesPerMessage: 1, maxInflight: 1 }),
    crashRate: 0.03,
    leaderCrashBias: 0.8,
    restartAfter: [1, 25],
    proposeRate: 0.5,
    // One entry per round trip: a leader far ahead needs long to bring followers up after healing.
    livenessTicks: 1500,
  };
}

export const configs: SimConfig[] = [
  { ...base, name: "three-nodes", cluster: cluster(3, calmNet) },
  { ...base, name: "five-nodes", cluster: cluster(5, lossyNet) },
  { ...base, name: "three-nodes-partitions", cluster: cluster(3, lossyNet), partitionRate: 0.03, partitionKinds: allPartitions },
  { ...base, name: "five-nodes-partitions", cluster: cluster(5, lossyNet), partitionRate: 0.03, partitionKinds: allPartitions },
  {
    ...base,
    name: "three-nodes-no-prevote",
    cluster: cluster(3, lossyNet, { preVote: false, checkQuorum: false }),
    partitionRate: 0.02,
    partitionKinds: allPartitions,
  },
  {
    ...base,
    name: "five-nodes-snapshots",
    cluster: cluster(5, lossyNet, { maxInflight: 2 }),
    compactRate: 0.15,
    crashRate: 0.02,
    restartAfter: [20, 80],
    partitionRate: 0.02,
    partitionKinds: ["isolate_leader", "split"],
  },
  { ...base, name: "membership", cluster: cluster(3, lossyNet), membershipRate: 0.03, compactRate: 0.05, partitionRate: 0.01, partitionKinds: ["isolate_leader", "split"] },
  {
    ...base,
    name: "bootstrap-grow",
    cluster: { ...cluster(1, calmNet), bootstrap: true },
    membershipRate: 0.05,
    compactRate: 0.05,
    crashRate: 0.005,
  },
  { ...base, name: "three-nodes-transfer", cluster: cluster(3, lossyNet), transferRate: 0.02, partitionRate: 0.01, partitionKinds: ["isolate_leader"] },
  figure8("figure-8", 3, 0.1),
  figure8("figure-8-five", 5, 0.2),
  {
    ...base,
    name: "five-nodes-no-checkquorum",
    cluster: cluster(5, lossyNet, { checkQuorum: false }),
    partitionRate: 0.03,
    partitionKinds: allPartitions,
    transferRate: 0.005,
  },
  {
    // Slow disks: a Ready takes up to 8 ticks to persist, so crashes often tear one. The election
    // timeout stays well above a disk write plus a round trip, as any deployment must have it.
    ...base,
    name: "three-nodes-slow-disk",
    cluster: { ...cluster(3, lossyNet, { electionTicks: 30, heartbeatTicks: 4 }), persistTicksMax: 8 },
    crashRate: 0.02,
    restartAfter: [1, 15],
    partitionRate: 0.01,
    partitionKinds: ["isolate_leader", "mute"],
  },
  {
    // Slow disks meet snapshots: a follower's write outlasts several round trips while the leader compacts past
    // it, so a snapshot (and the entries after it, once a late heartbeat answer reaches the leader) arrives while
    // a Ready is being written; the runtime driver applies as it goes. Found takeCommitted's hole (issue 10 #7).
    ...base,
    name: "slow-disk-snapshots",
    cluster: {
      ...cluster(3, { ...calmNet, delayMax: 4, loss: 0, duplicate: 0 }, { electionTicks: 60, heartbeatTicks: 1, maxInflight: 3, maxEntriesPerMessage: 1 }),
      persistTicksMax: 10,
    },
    proposeRate: 0.9,
    compactRate: 0.9,
    crashRate: 0.002,
    livenessTicks: 1200,
  },
  {
    ...base,
    name: "membership-chaos",
    cluster: { ...cluster(3, chaosNet, { maxInflight: 2 }), persistTicksMax: 3 },
    campaignRate: 0.005,
    membershipRate: 0.04,
    compactRate: 0.08,
    crashRate: 0.015,
    partitionRate: 0.02,
    partitionKinds: allPartitions,
    transferRate: 0.005,
    livenessTicks: 800,
  },
  {
    // Tight limits: tiny batches and windows, a short election timeout, a low uncommitted cap.
    ...base,
    name: "three-nodes-tight-limits",
    cluster: cluster(3, lossyNet, { electionTicks: 6, heartbeatTicks: 1, maxInflight: 1, maxEntriesPerMessage: 2, maxBytesPerMessage: 1, maxUncommittedEntries: 20 }),
    proposeRate: 0.8,
    partitionRate: 0.02,
    partitionKinds: allPartitions,
    compactRate: 0.05,
    transferRate: 0.005,
    livenessTicks: 800,
  },
  {
    ...base,
    name: "five-nodes-chaos",
    cluster: { ...cluster(5, chaosNet), persistTicksMax: 4 },
    crashRate: 0.02,
    partitionRate: 0.03,
    partitionKinds: allPartitions,
    compactRate: 0.05,
    transferRate: 0.01,
    membershipRate: 0.01,
  },
  // Placeholder: runSeed replaces it with mixedConfig(seed).
  { ...base, name: "mix", mix: true, cluster: cluster(3, calmNet) },
];

/**
 * mixedConfig draws every knob from the seed: cluster size, timeouts, pre-vote/check-quorum, limits,
 * network and fault rates. Combinations nobody wrote down by hand are where bugs hide.
 */
export function mixedConfig(seed: number): SimConfig {
  const r = new SimRng(seed ^ 0x5eed);
  const electionTicks = r.between(5, 20);
  const delayMax = r.between(1, Math.max(1, Math.floor(electionTicks / 4)));
  const core: CoreOptions = {
    electionTicks,
    heartbeatTicks: r.between(1, Math.max(1, Math.floor(electionTicks / 4))),
    preVote: r.chance(0.7),
    checkQuorum: r.chance(0.7),
    maxInflight: r.between(1, 16),
    maxBytesPerMessage: r.pick([1, 16, 64, 4096]),
    maxEntriesPerMessage: r.between(1, 64),
    maxUncommittedEntries: r.pick([10, 100, 1000]),
  };
  const net: NetworkOptions = {
    delayMin: 1,
    delayMax,
    loss: r.pick([0, 0.01, 0.05, 0.15]),
    duplicate: r.pick([0, 0.02, 0.1]),
    longDelay: r.pick([0, 0.01, 0.05]),
    longDelayMax: r.between(5, 50),
  };
  return {
    ...base,
    name: "mix",
    mix: true,
    cluster: { voters: r.pick([3, 5]), core, net, persistTicksMax: r.between(0, Math.max(0, Math.floor(electionTicks / 4))) },
    proposeRate: r.pick([0.1, 0.4, 0.9]),
    readRate: r.pick([0.05, 0.2, 0.5]),
    crashRate: r.pick([0, 0.005, 0.02, 0.05]),
    leaderCrashBias: r.pick([0.1, 0.5, 0.9]),
    newLeaderCrash: r.pick([0, 0, 0.3]),
    partitionRate: r.pick([0, 0.01, 0.03]),
    partitionKinds: allPartitions,
    compactRate: r.pick([0, 0.02, 0.2]),
    transferRate: r.pick([0, 0, 0.01]),
    campaignRate: r.pick([0, 0, 0.005, 0.02]),
    membershipRate: r.pick([0, 0, 0.03]),
    restartAfter: [1, r.between(5, 80)],
    healAfter: [5, r.between(10, 100)],
    livenessTicks: 100 * electionTicks,
  };
}

export function configNamed(name: string): SimConfig {
  const config = configs.find((c) => c.name === name);
  if (!config) throw new Error(`unknown config "${name}"; known: ${configs.map((c) => c.name).join(", ")}`);
  return config;
}
