// The classic Raft-lab persistence and robustness cases (MIT 6.5840 lab 3C/3D) on the simulator. A
// "crash" loses everything volatile (and may tear the write in progress); a restart reads the disk only.
import { describe, expect, test } from "bun:test";
import type { NodeId } from "../../src/raft/types.ts";
import type { SimCluster } from "./cluster.ts";
import { ET, LabFailure, appliedPayloads, checkOneLeader, connectedUp, labCluster, one, unreliableNetwork } from "./lab.ts";

/** restartNode is the lab's start1: crash (if up) then start from the disk. */
function restartNode(c: SimCluster, id: NodeId): void {
  c.crash(id);
  c.restart(id);
}

/** ring returns the node k places after `id` in id order (the lab's (leader + k) % n). */
function ring(c: SimCluster, id: NodeId, k: number): NodeId {
  const ids = c.ids();
  return ids[(ids.indexOf(id) + k) % ids.length] ?? 0;
}

describe("sim lab: persistence", () => {
  test("persistence 1: crashes of all, of the leader and of a follower lose nothing committed", () => {
    const c = labCluster(3);
    one(c, "p-11", 3);
    for (const id of c.ids()) restartNode(c, id);
    one(c, "p-12", 3);
    const leader1 = checkOneLeader(c);
    restartNode(c, leader1);
    one(c, "p-13", 3);
    const leader2 = checkOneLeader(c);
    c.crash(leader2);
    one(c, "p-14", 2);
    c.restart(leader2);
    one(c, "p-15", 3);
    const leader3 = checkOneLeader(c);
    const follower = ring(c, leader3, 1);
    c.crash(follower);
    one(c, "p-16", 2);
    c.restart(follower);
    one(c, "p-17", 3);
    expect(appliedPayloads(c)).toEqual(["p-11", "p-12", "p-13", "p-14", "p-15", "p-16", "p-17"]);
  });

  test("persistence 2: five nodes, repeated partial crashes and reconnects", () => {
    const c = labCluster(5, { seed: 5 });
    let k = 0;
    for (let iteration = 0; iteration < 5; iteration++) {
      one(c, `q-${k++}`, 5);
      const leader1 = checkOneLeader(c);
      c.disconnect(ring(c, leader1, 1));
      c.disconnect(ring(c, leader1, 2));
      one(c, `q-${k++}`, 3);
      for (const j of [0, 3, 4]) c.disconnect(ring(c, leader1, j));
      for (const j of [1, 2]) {
        restartNode(c, ring(c, leader1, j));
        c.connect(ring(c, leader1, j));
      }
      c.run(ET);
      restartNode(c, ring(c, leader1, 3));
      c.connect(ring(c, leader1, 3));
      one(c, `q-${k++}`, 3);
      c.connect(ring(c, leader1, 4));
      c.connect(ring(c, leader1, 0));
    }
    one(c, "q-last", 5);
    expect(appliedPayloads(c).length).toBeGreaterThanOrEqual(16);
  });

  test("persistence 3: a partitioned leader and a crashed follower come back without losing a write", () => {
    const c = labCluster(3, { seed: 9 });
    one(c, "r-101", 3);
    const leader = checkOneLeader(c);
    c.disconnect(ring(c, leader, 2));
    one(c, "r-102", 2);
    c.crash(ring(c, leader, 0));
    c.crash(ring(c, leader, 1));
    c.connect(ring(c, leader, 2));
    c.restart(ring(c, leader, 0));
    one(c, "r-103", 2);
    restartNode(c, ring(c, leader, 1));
    one(c, "r-104", 3);
    expect(appliedPayloads(c)).toEqual(["r-101", "r-102", "r-103", "r-104"]);
  });

  test("Figure 8: leaders crash at random points; what committed stays committed", () => {
    const c = labCluster(5, { seed: 8, core: { maxEntriesPerMessage: 1 } });
    one(c, "f8-first", 1);
    let up = 5;
    for (let iteration = 0; iteration < 300; iteration++) {
      const leaders = c.upNodes().filter((n) => n.core?.role === "leader");
      for (const l of leaders) c.propose(l.id, `f8-${iteration}`);
      c.run(c.rng.chance(0.1) ? c.rng.between(1, ET * 3) : c.rng.between(1, 3));
      const leader = c.leader();
      if (leader && c.rng.chance(0.5)) {
        c.crash(leader.id);
        up--;
      }
      if (up < 3) {
        const down = [...c.nodes.values()].filter((n) => !n.up);
        const revive = c.rng.pick(down);
        c.restart(revive.id);
        up++;
      }
    }
    for (const node of c.nodes.values()) if (!node.up) c.restart(node.id);
    one(c, "f8-last", 5);
    expect(c.checker.leaderTerms).toBeGreaterThan(20);
  });

  test("Figure 8 unreliable: the same with a lossy, reordering network and disconnects", () => {
    const c = labCluster(5, { seed: 18, net: unreliableNetwork, core: { maxEntriesPerMessage: 1 } });
    one(c, "f8u-first", 1);
    for (let iteration = 0; iteration < 300; iteration++) {
      if (iteration % 20 === 0) c.net.options = { ...c.net.options, longDelay: 0.2 };
      const leaders = c.upNodes().filter((n) => n.core?.role === "leader");
      for (const l of leaders) c.propose(l.id, `f8u-${iteration}`);
      c.run(c.rng.chance(0.1) ? c.rng.between(1, ET * 3) : c.rng.between(1, 3));
      const leader = c.leader(true);
      if (leader && c.rng.chance(0.5)) c.disconnect(leader.id);
      if (connectedUp(c).length < 3) c.connect(c.rng.pick(c.ids().filter((id) => !c.connected(id))));
    }
    c.net.options = { ...unreliableNetwork, loss: 0, duplicate: 0, longDelay: 0 };
    for (const id of c.ids()) c.connect(id);
    one(c, "f8u-last", 5);
    expect(c.checker.leaderTerms).toBeGreaterThan(4);
  });
});

describe("sim lab: unreliable networks and churn", () => {
  test("unreliable agreement: concurrent writes over a lossy, duplicating, reordering network", () => {
    const c = labCluster(5, { seed: 4, net: unreliableNetwork });
    for (let iteration = 1; iteration < 30; iteration++) {
      for (let j = 0; j < 4; j++) {
        const leader = c.leader(true);
        if (leader) c.propose(leader.id, `u-${iteration}-${j}`);
      }
      one(c, `u-${iteration}`, 1);
    }
    c.net.options = { ...unreliableNetwork, loss: 0, duplicate: 0, longDelay: 0 };
    one(c, "u-last", 5);
    const payloads = appliedPayloads(c);
    expect(new Set(payloads).size).toBeGreaterThan(29);
  });

  function churn(c: SimCluster, unreliable: boolean): void {
    const written: string[] = [];
    for (let iteration = 0; iteration < 40; iteration++) {
      // Clients write on random nodes throughout (refused writes are simply retried elsewhere later).
      for (let t = 0; t < 20; t++) {
        const up = c.upNodes();
        if (up.length > 0 && c.rng.chance(0.5)) {
          const payload = `ch-${iteration}-${t}`;
          if (c.propose(c.rng.pick(up).id, payload).ok) written.push(payload);
        }
        c.tick();
      }
      const pick = () => c.rng.pick(c.ids());
      if (c.rng.chance(0.2)) c.disconnect(pick());
      if (c.rng.chance(0.5)) {
        const id = pick();
        if (!c.node(id).up) c.restart(id);
        c.connect(id);
      }
      if (c.rng.chance(0.2)) c.crash(pick());
      if (unreliable && c.rng.chance(0.3)) c.net.options = { ...c.net.options, longDelay: c.rng.chance(0.5) ? 0.2 : 0.02 };
    }
    c.net.options = { ...c.net.options, loss: 0, duplicate: 0, longDelay: 0 };
    for (const node of c.nodes.values()) if (!node.up) c.restart(node.id);
    for (const id of c.ids()) c.connect(id);
    const last = one(c, "ch-last", 5);
    if (!c.runUntil(() => c.nCommitted(last) === 5, 60 * ET)) throw new LabFailure("not every node caught up after churn", c);
    // Every node holds the same sequence, and some of the churned writes made it.
    const committed = appliedPayloads(c);
    expect(committed.length).toBeGreaterThan(10);
    for (const p of committed) if (p !== "ch-last") expect(written).toContain(p);
  }

  test("reliable churn: crashes, restarts and disconnects under constant writes", () => {
    churn(labCluster(5, { seed: 21 }), false);
  });

  test("unreliable churn: the same over a lossy, reordering network", () => {
    churn(labCluster(5, { seed: 22, net: unreliableNetwork }), true);
  });

  test("snapshot install: a lagging, crashed or disconnected follower catches up from a snapshot", () => {
    const c = labCluster(3, { seed: 12 });
    one(c, "s-first", 3);
    for (let iteration = 0; iteration < 12; iteration++) {
      const leader = checkOneLeader(c);
      const victim = ring(c, leader, 1 + (iteration % 2));
      const crash = iteration % 3 === 0;
      if (crash) c.crash(victim);
      else c.disconnect(victim);
      for (let j = 0; j < 11; j++) one(c, `s-${iteration}-${j}`, 2);
      // Compact every live log behind its applied index: the victim's next entries are gone.
      for (const node of c.upNodes()) c.compact(node.id);
      if (crash) c.restart(victim);
      else c.connect(victim);
      one(c, `s-${iteration}-back`, 3);
    }
    expect(c.stats.snapshotsInstalled).toBeGreaterThan(5);
    expect(appliedPayloads(c).length).toBe(1 + 12 * 12);
  });
});
