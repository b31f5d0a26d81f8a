import { describe, expect, test } from "bun:test";
import { bootstrapState } from "../../src/raft/bootstrap.ts";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { createRand } from "../../src/raft/rand.ts";
import { Cluster, confOf, enc, member, newCluster } from "./harness.ts";

describe("election", () => {
  test("initial election: one leader, every node agrees on it and its term", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const c = newCluster(3, seed);
      const leader = c.elect();
      const term = c.core(leader).status().term;
      for (const id of [1, 2, 3]) {
        expect(c.core(id).status().leaderId).toBe(leader);
        expect(c.core(id).status().term).toBe(term);
      }
      // The leader's noop commits and is applied everywhere.
      for (const id of [1, 2, 3]) expect(c.get(id).applied).toEqual(["noop"]);
    }
  });

  test("randomized election timeouts lie in [electionTicks, 2*electionTicks)", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const c = newCluster(1, seed);
      const core = c.core(1);
      let ticks = 0;
      while (core.status().role === "follower") {
        core.tick();
        ticks++;
        expect(ticks).toBeLessThan(20);
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
    }
  });

  test("single voter: campaign() makes it leader at once; the noop commits after advance", () => {
    const c = newCluster(1);
    c.core(1).campaign();
    expect(c.core(1).status().role).toBe("leader");
    c.pump();
    expect(c.get(1).applied).toEqual(["noop"]);
    const r = c.core(1).propose(enc("x"));
    expect(r.ok).toBe(true);
    c.pump();
    expect(c.get(1).applied).toEqual(["noop", "x"]);
  });

  test("bootstrapState: a fresh node rebuilds its config from the log and leads alone", () => {
    const storage = new MemoryStorage();
    const boot = bootstrapState(member(7));
    storage.append(boot.entries);
    storage.setHardState(boot.hardState);
    const core = new RaftCore({
      id: 7, log: storage, hardState: storage.hardState, applied: 0, electionTicks: 10, heartbeatTicks: 1,
      rand: createRand(1), preVote: true, checkQuorum: true, maxInflight: 8, maxBytesPerMessage: 1 << 20,
      maxEntriesPerMessage: 64, maxUncommittedEntries: 100,
    });
    expect(core.status().members).toEqual([{ ...member(7), matchIndex: 0 }]);
    const rd = core.ready();
    expect(rd.committed.map((e) => e.index)).toEqual([1, 2]);
    core.advance(rd);
    core.campaign();
    expect(core.status().role).toBe("leader");
    expect(core.status().term).toBe(2);
  });

  test("a leader is re-elected after the old one is isolated; the old one steps down on rejoin", () => {
    const c = newCluster(3, 7);
    const old = c.elect();
    c.isolate(old);
    const others = [1, 2, 3].filter((id) => id !== old);
    for (let i = 0; i < 100 && !others.some((id) => c.core(id).status().role === "leader"); i++) c.tick();
    const next = others.find((id) => c.core(id).status().role === "leader");
    expect(next).toBeDefined();
    c.heal();
    c.tick(undefined, 3);
    expect(c.leaders()).toEqual([next as number]);
    expect(c.core(old).status().leaderId).toBe(next as number);
  });

  test("vote requests wait for persistence: they are in messagesAfterPersist", () => {
    const c = newCluster(3, 1, { preVote: false });
    c.core(1).campaign();
    const rd = c.core(1).ready();
    expect(rd.messages.filter((m) => m.type === "vote")).toEqual([]);
    expect(rd.messagesAfterPersist.filter((m) => m.type === "vote").length).toBe(2);
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd.mustSync).toBe(true);
    c.core(1).advance(rd);
  });

  test("a node never votes twice in one term, even after a restart", () => {
    const c = newCluster(3, 1, { preVote: false });
    c.isolate(3); // 3 stays at term 0
    c.core(1).campaign();
    c.pump();
    expect(c.core(2).status().vote).toBe(1);
    c.restart(2);
    expect(c.core(2).status().vote).toBe(1);
    // 3 campaigns in the same term 1 (force its term to 1 by campaigning from term 0).
    c.heal();
    c.isolate(1);
    c.core(3).campaign();
    c.pump();
    expect(c.core(2).status().vote).toBe(1);
    expect(c.core(3).status().role).not.toBe("leader");
  });
});

describe("pre-vote and check-quorum", () => {
  test("pre-vote: a partitioned follower does not inflate its term or disrupt the leader", () => {
    const c = newCluster(3, 3);
    const leader = c.elect();
    const term = c.core(leader).status().term;
    const victim = [1, 2, 3].find((id) => id !== leader) as number;
    c.isolate(victim);
    c.tick(undefined, 100);
    expect(c.core(victim).status().term).toBe(term);
    c.heal();
    c.tick(undefined, 5);
    expect(c.leaders()).toEqual([leader]);
    expect(c.core(leader).status().term).toBe(term);
  });

  test("without pre-vote the partitioned follower's term does inflate (control)", () => {
    const c = newCluster(3, 3, { preVote: false });
    const leader = c.elect();
    const term = c.core(leader).status().term;
    const victim = [1, 2, 3].find((id) => id !== leader) as number;
    c.isolate(victim);
    c.tick(undefined, 100);
    expect(c.core(victim).status().term).toBeGreaterThan(term + 3);
  });

  test("check-quorum: an isolated leader steps down within an election timeout", () => {
    const c = newCluster(3, 4);
    const leader = c.elect();
    expect(c.core(leader).status().quorumActive).toBe(true);
    c.isolate(leader);
    c.tick([leader], 2 * 10 + 1);
    expect(c.core(leader).status().role).toBe("follower");
  });

  test("check-quorum lease: a follower that hears the leader ignores a disruptive vote", () => {
    const c = newCluster(3, 5, { preVote: false });
    const leader = c.elect();
    const [a, b] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    const term = c.core(a).status().term;
    c.core(a).step({ type: "vote", from: b, to: a, term: term + 5, lastIndex: 100, lastTerm: 100, transfer: false });
    expect(c.core(a).status().term).toBe(term);
    // With transfer=true the lease does not apply.
    c.core(a).step({ type: "vote", from: b, to: a, term: term + 5, lastIndex: 100, lastTerm: 100, transfer: true });
    expect(c.core(a).status().term).toBe(term + 5);
    expect(c.core(a).status().vote).toBe(b);
  });

  test("learners and non-members never campaign", () => {
    const c = new Cluster(1);
    c.add(1, confOf([1], [2]));
    c.add(2, confOf([1], [2]));
    c.add(3, confOf([1], [2]));
    c.tick([2, 3], 100);
    expect(c.core(2).status().role).toBe("follower");
    expect(c.core(3).status().role).toBe("follower");
    expect(c.core(2).status().term).toBe(0);
    c.core(3).campaign();
    expect(c.core(3).status().term).toBe(0);
  });
});
