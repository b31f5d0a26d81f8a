import { describe, expect, test } from "bun:test";
import type { Entry, Message } from "../../src/raft/types.ts";
import { Cluster, confOf, enc, newCluster } from "./harness.ts";

const noop = (index: number, term: number): Entry => ({ kind: "noop", index, term });

describe("replication", () => {
  test("proposals on the leader commit and apply everywhere in order", () => {
    const c = newCluster(3, 11);
    const leader = c.elect();
    for (let i = 0; i < 20; i++) {
      const r = c.core(leader).propose(enc(`v${i}`));
      expect(r.ok).toBe(true);
    }
    c.pump();
    c.tick(undefined, 2);
    const expected = ["noop", ...Array.from({ length: 20 }, (_, i) => `v${i}`)];
    for (const id of [1, 2, 3]) expect(c.get(id).applied).toEqual(expected);
  });

  test("a follower refuses proposals with the leader hint; no leader gives no_leader", () => {
    const c = newCluster(3, 12);
    const leader = c.elect();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    expect(c.core(follower).propose(enc("x"))).toEqual({ ok: false, error: "not_leader", leaderId: leader });
    const fresh = newCluster(3, 12);
    expect(fresh.core(1).propose(enc("x"))).toEqual({ ok: false, error: "no_leader", leaderId: 0 });
  });

  test("no commit without a majority; commit follows once the majority is back", () => {
    const c = newCluster(3, 13);
    const leader = c.elect();
    const [a, b] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    c.isolate(a);
    c.isolate(b);
    const r = c.core(leader).propose(enc("x"));
    expect(r.ok).toBe(true);
    c.tick([leader], 5);
    expect(c.core(leader).status().commit).toBeLessThan((r as { index: number }).index);
    c.heal();
    c.tick(undefined, 3);
    expect(c.core(leader).status().commit).toBeGreaterThanOrEqual((r as { index: number }).index);
    expect(c.get(a).applied).toContain("x");
  });

  test("the leader's own match advances only on advance() (after its persist)", () => {
    const c = newCluster(3, 14);
    const leader = c.elect();
    const before = c.core(leader).status().members.find((m) => m.id === leader)?.matchIndex ?? -1;
    const r = c.core(leader).propose(enc("x"));
    expect(r.ok).toBe(true);
    expect(c.core(leader).status().members.find((m) => m.id === leader)?.matchIndex).toBe(before);
    const rd = c.core(leader).ready();
    expect(rd.entries.length).toBe(1);
    expect(c.core(leader).status().members.find((m) => m.id === leader)?.matchIndex).toBe(before);
    c.get(leader).storage.append(rd.entries);
    c.core(leader).advance(rd);
    expect(c.core(leader).status().members.find((m) => m.id === leader)?.matchIndex).toBe(before + 1);
  });

  test("batching and the inflight window bound the appends to a silent follower", () => {
    const c = newCluster(3, 15, { maxInflight: 3, maxEntriesPerMessage: 4 });
    const leader = c.elect();
    const [a] = [1, 2, 3].filter((id) => id !== leader) as [number];
    c.filters.push((m) => m.from === a); // a receives but never answers
    for (let i = 0; i < 50; i++) {
      c.core(leader).propose(enc(`v${i}`));
      c.pump();
    }
    const appends = c.sent.filter((m): m is Extract<Message, { type: "append" }> => m.type === "append" && m.to === a && m.entries.length > 0);
    const afterElection = appends.filter((m) => m.entries.some((e) => e.kind === "normal"));
    expect(afterElection.length).toBeLessThanOrEqual(3);
    for (const m of appends) expect(m.entries.length).toBeLessThanOrEqual(4);
    c.heal();
    c.tick(undefined, 30);
    expect(c.get(a).applied.length).toBe(51);
  });

  test("maxUncommittedEntries refuses proposals with too_many_uncommitted", () => {
    const c = newCluster(3, 16, { maxUncommittedEntries: 5 });
    const leader = c.elect();
    for (const id of [1, 2, 3]) if (id !== leader) c.isolate(id);
    const results = Array.from({ length: 8 }, () => c.core(leader).propose(enc("x")));
    expect(results.filter((r) => r.ok).length).toBe(5);
    expect(results[7]).toEqual({ ok: false, error: "too_many_uncommitted", leaderId: leader });
  });

  test("heartbeats carry commit = min(commit, follower match)", () => {
    const c = newCluster(3, 17);
    const leader = c.elect();
    const [a] = [1, 2, 3].filter((id) => id !== leader) as [number];
    c.filters.push((m) => m.to === a && m.type === "append");
    c.core(leader).propose(enc("x"));
    c.pump();
    const commit = c.core(leader).status().commit;
    const match = c.core(leader).status().members.find((m) => m.id === a)?.matchIndex ?? -1;
    expect(match).toBeLessThan(commit);
    c.sent = [];
    c.tick([leader], 1);
    const hb = c.sent.find((m) => m.type === "heartbeat" && m.to === a) as Extract<Message, { type: "heartbeat" }>;
    expect(hb.commit).toBe(match);
  });
});

describe("log safety", () => {
  // Leader 1 (term 4 after campaigning) and both followers hold entry 2 of term 2, uncommitted. The
  // followers acknowledge index 2 but not the leader's noop (index 3, term 4): counting replicas of
  // entry 2 must not commit it (thesis §3.6.2, Figure 8).
  function figure8(faults: { commitPreviousTermByCount?: boolean }): Cluster {
    const c = new Cluster(21, { preVote: false, faults });
    const conf = confOf([1, 2, 3]);
    for (const id of [1, 2, 3]) c.add(id, conf, [noop(1, 1), noop(2, 2)], { term: 3, vote: 0, commit: 1 });
    c.filters.push((m) => m.type === "append" && m.entries.length > 0);
    c.core(1).campaign();
    c.pump();
    for (const from of [2, 3]) {
      c.core(1).step({ type: "append_resp", from, to: 1, term: 4, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
    }
    c.pump();
    return c;
  }

  test("figure 8: an entry of a previous term is not committed by counting replicas", () => {
    const c = figure8({});
    expect(c.core(1).status().role).toBe("leader");
    expect(c.core(1).status().term).toBe(4);
    expect(c.core(1).status().members.filter((m) => m.matchIndex >= 2).length).toBe(3);
    expect(c.core(1).status().commit).toBe(1);
    c.heal();
    c.tick(undefined, 2);
    expect(c.core(1).status().commit).toBe(3);
    for (const id of [1, 2, 3]) expect(c.core(id).status().commit).toBe(3);
  });

  test("figure 8 fault commitPreviousTermByCount does commit it (the checker's target)", () => {
    const c = figure8({ commitPreviousTermByCount: true });
    expect(c.core(1).status().commit).toBe(2);
  });

  test("fast backtracking over a long divergent log takes a bounded number of rejections", () => {
    const n = 200;
    const c = new Cluster(22, { preVote: false, maxEntriesPerMessage: 1000 });
    const conf = confOf([1, 2, 3]);
    const leaderLog = [noop(1, 1), ...Array.from({ length: n }, (_, i) => noop(i + 2, 3))];
    const staleLog = [noop(1, 1), ...Array.from({ length: n + 50 }, (_, i) => noop(i + 2, 2))];
    c.add(1, conf, leaderLog, { term: 3, vote: 0, commit: 1 });
    c.add(2, conf, staleLog, { term: 3, vote: 0, commit: 1 });
    c.add(3, conf, leaderLog.slice(0, 1), { term: 3, vote: 0, commit: 1 });
    c.core(1).campaign();
    c.pump();
    expect(c.core(1).status().role).toBe("leader");
    const rejects = c.sent.filter((m) => m.type === "append_resp" && m.reject && m.from === 2);
    expect(rejects.length).toBeLessThanOrEqual(2);
    expect(c.core(2).status().lastIndex).toBe(n + 2);
    expect(c.get(2).storage.term(n + 1)).toBe(3);
    expect(c.core(2).status().commit).toBe(n + 2);
  });

  test("log matching: after churn with isolated leaders, every node applies the same sequence", () => {
    for (const seed of [31, 32, 33]) {
      const c = newCluster(5, seed);
      let k = 0;
      for (let round = 0; round < 6; round++) {
        const leader = c.elect(400);
        for (let i = 0; i < 5; i++) c.core(leader).propose(enc(`r${round}-${k++}`));
        if (round % 2 === 0) c.pump();
        c.isolate(leader);
        c.tick(undefined, 25);
        c.heal();
      }
      c.elect(400);
      c.tick(undefined, 5);
      const seqs = [1, 2, 3, 4, 5].map((id) => c.get(id).applied);
      const longest = seqs.reduce((a, b) => (a.length >= b.length ? a : b));
      for (const s of seqs) expect(longest.slice(0, s.length)).toEqual(s);
      expect(longest.length).toBeGreaterThan(6);
    }
  });
});
