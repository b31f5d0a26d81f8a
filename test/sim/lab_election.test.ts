// The classic Raft-lab election cases (MIT 6.5840 lab 3A), on the simulator: every run is seeded and
// the checker watches every step (one leader per term, votes durable, log matching, ...).
import { describe, expect, test } from "bun:test";
import { ET, checkNoLeader, checkOneLeader, labCluster } from "./lab.ts";

describe("sim lab: elections", () => {
  test("initial election: one leader, and terms stay put when nothing fails", () => {
    const c = labCluster(3);
    const leader = checkOneLeader(c);
    const term = c.node(leader).core?.term ?? 0;
    expect(term).toBeGreaterThan(1);
    c.run(5 * ET);
    expect(checkOneLeader(c)).toBe(leader);
    expect(c.maxTerm()).toBe(term);
  });

  test("re-election: a new leader after the leader disconnects; none without a majority", () => {
    const c = labCluster(3);
    const leader1 = checkOneLeader(c);
    c.disconnect(leader1);
    const leader2 = checkOneLeader(c);
    expect(leader2).not.toBe(leader1);
    // The old leader rejoining must not disturb the new one (pre-vote, check-quorum).
    c.connect(leader1);
    const leader3 = checkOneLeader(c);
    c.disconnect(leader3);
    const other = c.ids().find((id) => id !== leader3 && c.connected(id)) ?? 0;
    c.disconnect(other);
    c.run(4 * ET);
    checkNoLeader(c);
    c.connect(other);
    checkOneLeader(c);
    c.connect(leader3);
    checkOneLeader(c);
  });

  test("many elections: 5 nodes, two random ones cut off each round, a leader every time", () => {
    const c = labCluster(5, { seed: 7 });
    checkOneLeader(c);
    for (let round = 0; round < 10; round++) {
      const cut = c.rng.shuffle(c.ids()).slice(0, 2);
      for (const id of cut) c.disconnect(id);
      const leader = checkOneLeader(c);
      expect(cut).not.toContain(leader);
      for (const id of cut) c.connect(id);
    }
    checkOneLeader(c);
  });

  test("message-count bound: an election and an idle election timeout stay cheap", () => {
    const c = labCluster(3);
    checkOneLeader(c);
    // Pre-vote + vote round trips to 2 peers, plus the first appends: a handful of messages.
    const electionMessages = c.net.sent;
    expect(electionMessages).toBeLessThan(30);
    c.net.resetCounters();
    c.run(10 * ET);
    // Idle: one heartbeat round per heartbeat interval (2 peers, request + response), nothing else.
    const perTimeout = c.net.sent / 10;
    expect(perTimeout).toBeLessThanOrEqual((ET / c.options.core.heartbeatTicks) * 4 + 2);
    expect(c.net.messagesOfType("vote") + c.net.messagesOfType("pre_vote")).toBe(0);
  });
});
