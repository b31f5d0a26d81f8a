// Membership changes one server at a time (thesis §4.1) on the simulator: add a learner, promote it,
// remove a voter (the leader too), and grow a cluster from a single bootstrapped node.
import { describe, expect, test } from "bun:test";
import { SimCluster } from "./cluster.ts";
import { baseCore } from "./configs.ts";
import { ET, LabFailure, appliedPayloads, checkOneLeader, labCluster, one } from "./lab.ts";
import { reliableNetwork } from "./network.ts";
import { changeOf } from "./node.ts";

/** change proposes `change` through the leader until it is applied by the leader (retrying refusals). */
function change(c: SimCluster, type: "add_learner" | "promote" | "remove", id: number): void {
  const done = c.runUntil(() => {
    const leader = c.leader(true);
    if (!leader?.core) return false;
    const members = leader.core.status().members;
    const member = members.find((m) => m.id === id);
    if (type === "add_learner" && member) return true;
    if (type === "promote" && member?.role === "voter") return true;
    if (type === "remove" && !member && leader.core.status().commit >= leader.core.status().lastIndex) return true;
    c.proposeConf(leader.id, changeOf(type, id));
    return false;
  }, 60 * ET);
  if (!done) throw new LabFailure(`${type} ${id} did not take effect`, c);
}

function voters(c: SimCluster): number[] {
  const leader = c.leader(true);
  return (leader?.core?.status().members ?? []).filter((m) => m.role === "voter").map((m) => m.id);
}

describe("sim lab: membership", () => {
  test("add a learner (it catches up from a snapshot), promote it, remove the leader", () => {
    const c = labCluster(3, { seed: 31 });
    for (let i = 0; i < 20; i++) one(c, `m-${i}`, 3);
    for (const node of c.upNodes()) c.compact(node.id);
    c.addNode(4);
    change(c, "add_learner", 4);
    one(c, "m-learner", 4);
    expect(c.node(4).applied).toBeGreaterThanOrEqual(22);
    expect(c.stats.snapshotsInstalled).toBeGreaterThan(0);
    change(c, "promote", 4);
    expect(voters(c)).toEqual([1, 2, 3, 4]);
    one(c, "m-four", 4);
    const leader = checkOneLeader(c);
    change(c, "remove", leader);
    c.retire(leader);
    const next = checkOneLeader(c);
    expect(next).not.toBe(leader);
    expect(voters(c)).not.toContain(leader);
    one(c, "m-after", 3);
    expect(appliedPayloads(c)).toContain("m-after");
  });

  test("grow from one bootstrapped node to five, then shrink to three", () => {
    const c = new SimCluster({
      seed: 32,
      voters: 1,
      bootstrap: true,
      core: baseCore,
      net: { ...reliableNetwork, delayMin: 1, delayMax: 2 },
      persistTicksMax: 1,
      trace: true,
    });
    one(c, "g-alone", 1);
    for (const id of [2, 3, 4, 5]) {
      c.addNode(id);
      change(c, "add_learner", id);
      change(c, "promote", id);
      one(c, `g-${id}`, id);
    }
    expect(voters(c)).toEqual([1, 2, 3, 4, 5]);
    for (const id of [1, 2]) {
      change(c, "remove", id);
      c.retire(id);
      one(c, `g-without-${id}`, 5 - id);
    }
    expect(voters(c)).toEqual([3, 4, 5]);
    // With two of three voters the cluster still commits; with one it cannot.
    c.crash(3);
    one(c, "g-two-of-three", 2);
    c.crash(4);
    const leader = c.leader();
    if (leader) c.propose(leader.id, "g-alone-again");
    c.run(4 * ET);
    expect(appliedPayloads(c)).not.toContain("g-alone-again");
  });
});
