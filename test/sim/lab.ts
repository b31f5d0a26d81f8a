import type { Index, NodeId } from "../../src/raft/types.ts";
import { SimCluster } from "./cluster.ts";
import { baseCore } from "./configs.ts";
import { type NetworkOptions, reliableNetwork } from "./network.ts";
import type { CoreOptions } from "./node.ts";

/** ET is one election timeout in ticks (a follower times out after ET..2ET ticks). */
export const ET = baseCore.electionTicks;

/** The lab's unreliable network: drops 10%, delays up to 6 ticks, duplicates some, reorders a lot. */
export const unreliableNetwork: NetworkOptions = { delayMin: 1, delayMax: 6, loss: 0.1, duplicate: 0.05, longDelay: 0.05, longDelayMax: 40 };

export interface LabOptions {
  seed?: number;
  net?: NetworkOptions;
  core?: Partial<CoreOptions>;
  persistTicksMax?: number;
}

/** labCluster: n voters on a reliable network, traced (the trace is printed when a lab assertion fails). */
export function labCluster(n: number, options: LabOptions = {}): SimCluster {
  return new SimCluster({
    seed: options.seed ?? 1,
    voters: n,
    core: { ...baseCore, ...options.core },
    net: options.net ?? { ...reliableNetwork, delayMin: 1, delayMax: 2 },
    persistTicksMax: options.persistTicksMax ?? 1,
    trace: true,
  });
}

/** LabFailure carries the cluster's recent trace, so a failing lab test shows what happened. */
export class LabFailure extends Error {
  override name = "LabFailure";
  constructor(message: string, c: SimCluster) {
    super(`${message}\n${c.traceDump().slice(-60).join("\n")}`);
  }
}

/** connectedUp: the nodes that are up and not disconnected. */
export function connectedUp(c: SimCluster): NodeId[] {
  return c.upNodes().map((n) => n.id).filter((id) => c.connected(id));
}

/** leadersByTerm: among connected up nodes, who believes it leads, by term. */
function connectedLeaders(c: SimCluster): Map<number, NodeId[]> {
  const byTerm = new Map<number, NodeId[]>();
  for (const id of connectedUp(c)) {
    const core = c.node(id).core;
    if (core?.role !== "leader") continue;
    byTerm.set(core.term, [...(byTerm.get(core.term) ?? []), id]);
  }
  return byTerm;
}

/** checkOneLeader: within 30 election timeouts, exactly one connected node leads the newest term. */
export function checkOneLeader(c: SimCluster): NodeId {
  let leader: NodeId | null = null;
  const found = c.runUntil(() => {
    const byTerm = connectedLeaders(c);
    if (byTerm.size === 0) return false;
    const newest = Math.max(...byTerm.keys());
    const ids = byTerm.get(newest) ?? [];
    if (ids.length > 1) throw new LabFailure(`term ${newest} has ${ids.length} leaders`, c);
    // Everyone connected must have caught up with that term (a stale leader elsewhere would not count).
    const everyoneThere = connectedUp(c).every((id) => (c.node(id).core?.term ?? 0) === newest);
    leader = everyoneThere ? (ids[0] ?? null) : null;
    return leader !== null;
  }, 30 * ET);
  if (!found || leader === null) throw new LabFailure("expected one leader", c);
  return leader;
}

/** checkNoLeader: no connected up node believes it leads. */
export function checkNoLeader(c: SimCluster): void {
  const byTerm = connectedLeaders(c);
  if (byTerm.size > 0) throw new LabFailure(`expected no leader among connected nodes, found ${[...byTerm.values()].flat().join(",")}`, c);
}

/** one: the lab's agreement check; `payload` commits on at least `expected` nodes within 60 election timeouts. */
export function one(c: SimCluster, payload: string, expected: number): Index {
  const index = c.commitOne(payload, expected, 60 * ET);
  if (index < 0) throw new LabFailure(`one(${payload}, ${expected}) failed to reach agreement`, c);
  return index;
}

/** appliedPayloads: the client payloads in the global committed sequence, in order. */
export function appliedPayloads(c: SimCluster): string[] {
  return c.checker.committed.filter((id) => id.includes(":w:")).map((id) => id.slice(id.indexOf(":w:") + 3));
}
