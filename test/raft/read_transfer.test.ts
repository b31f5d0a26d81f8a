import { describe, expect, test } from "bun:test";
import { enc, newCluster } from "./harness.ts";

describe("ReadIndex", () => {
  test("leader: a read is answered after a heartbeat round with the commit index", () => {
    const c = newCluster(3, 41);
    const leader = c.elect();
    c.core(leader).propose(enc("x"));
    c.pump();
    const commit = c.core(leader).status().commit;
    expect(c.core(leader).readIndex("r1")).toEqual({ ok: true });
    expect(c.get(leader).readStates).toEqual([]);
    c.pump();
    expect(c.get(leader).readStates).toEqual([{ ctx: "r1", index: commit }]);
  });

  test("leader: many reads in flight are each answered once, in order", () => {
    const c = newCluster(3, 42);
    const leader = c.elect();
    for (let i = 0; i < 10; i++) c.core(leader).readIndex(`r${i}`);
    c.pump();
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
    // Batched: the ten reads shared one heartbeat round, sent to one follower (with the leader, a majority).
    expect(c.sent.filter((m) => m.type === "heartbeat" && m.ctx !== "").length).toBe(1);
  });

  test("read rounds ask one follower of three, the two in turn", () => {
    const c = newCluster(3, 42);
    const leader = c.elect();
    c.sent = [];
    for (let i = 0; i < 6; i++) {
      c.core(leader).readIndex(`r${i}`);
      c.pump();
    }
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
    const askedIn = c.sent.filter((m) => m.type === "heartbeat" && m.ctx !== "").map((m) => m.to);
    expect(askedIn.length).toBe(6);
    const [a, b] = [1, 2, 3].filter((id) => id !== leader);
    expect(new Set([askedIn[0], askedIn[1]])).toEqual(new Set([a, b]));
    for (let i = 2; i < 6; i++) expect(askedIn[i]).toBe(askedIn[i - 2]!);
  });

  test("five voters: a round asks two followers (leader + two = a majority)", () => {
    const c = newCluster(5, 43);
    const leader = c.elect();
    c.sent = [];
    c.core(leader).readIndex("r");
    c.pump();
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["r"]);
    const asked = c.sent.filter((m) => m.type === "heartbeat" && m.ctx !== "").map((m) => m.to);
    expect(asked.length).toBe(2);
    expect(new Set(asked).size).toBe(2);
  });

  test("a follower that did not answer its read round is not asked again until it answers a heartbeat", () => {
    const c = newCluster(3, 44);
    const leader = c.elect();
    const [a, b] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    // Find who the next round asks, and make that follower deaf.
    c.sent = [];
    c.core(leader).readIndex("probe");
    c.pump();
    const next = c.sent.find((m) => m.type === "heartbeat" && m.ctx === "probe")!.to === a ? b : a;
    const deaf = c.isolate(next);
    c.sent = [];
    c.core(leader).readIndex("stuck");
    c.pump();
    expect(c.sent.filter((m) => m.type === "heartbeat" && m.ctx === "stuck").map((m) => m.to)).toEqual([next]);
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["probe"]);
    // The periodic heartbeat goes to everyone and carries the pending round: the other follower answers it.
    c.tick([leader], 1);
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["probe", "stuck"]);
    // The deaf follower still owes an answer: the following rounds skip it.
    c.sent = [];
    for (const ctx of ["s1", "s2", "s3"]) {
      c.core(leader).readIndex(ctx);
      c.pump();
    }
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["probe", "stuck", "s1", "s2", "s3"]);
    const other = next === a ? b : a;
    expect(c.sent.filter((m) => m.type === "heartbeat" && m.ctx !== "").map((m) => m.to)).toEqual([other, other, other]);
    // Once it answers (a periodic heartbeat), it takes its turns again.
    c.filters = c.filters.filter((f) => f !== deaf);
    c.tick([leader], 1);
    c.sent = [];
    for (const ctx of ["t1", "t2"]) {
      c.core(leader).readIndex(ctx);
      c.pump();
    }
    expect(new Set(c.sent.filter((m) => m.type === "heartbeat" && m.ctx !== "").map((m) => m.to))).toEqual(new Set([a, b]));
  });

  test("with entries in flight to a follower, a read round asks the other one; with both busy, both", () => {
    const c = newCluster(3, 45);
    const leader = c.elect();
    const [a, b] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    // a's acks are lost: the leader still sees entries in flight to a.
    const lostAcks = (m: { type: string; from: number }) => m.type === "append_resp" && m.from === a;
    c.filters.push(lostAcks);
    c.core(leader).propose(enc("x"));
    c.pump();
    c.sent = [];
    for (const ctx of ["r1", "r2"]) {
      c.core(leader).readIndex(ctx);
      c.pump();
    }
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["r1", "r2"]);
    expect(c.sent.filter((m) => m.type === "heartbeat" && m.ctx !== "").map((m) => m.to)).toEqual([b, b]);
    // Now both owe acks: the round goes to both, as a broadcast.
    c.filters.push((m) => m.type === "append_resp");
    c.core(leader).propose(enc("y"));
    c.pump();
    c.sent = [];
    c.core(leader).readIndex("r3");
    c.pump();
    expect(new Set(c.sent.filter((m) => m.type === "heartbeat" && m.ctx === "r3").map((m) => m.to))).toEqual(new Set([a, b]));
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["r1", "r2", "r3"]);
  });

  test("a lost read round is retried by the periodic heartbeat", () => {
    const c = newCluster(3, 42);
    const leader = c.elect();
    const drop = (m: { type: string }) => m.type === "heartbeat";
    c.filters.push(drop);
    c.core(leader).readIndex("lost");
    c.pump();
    expect(c.get(leader).readStates).toEqual([]);
    c.heal();
    c.tick([leader], 1);
    expect(c.get(leader).readStates.map((r) => r.ctx)).toEqual(["lost"]);
  });

  test("a forwarded read fails with -1 when the follower's term changes before the answer", () => {
    const c = newCluster(3, 49);
    const leader = c.elect();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    c.filters.push((m) => m.type === "read_index");
    c.core(follower).readIndex("f");
    c.pump();
    c.heal();
    c.core(leader).transferLeadership([1, 2, 3].find((id) => id !== leader && id !== follower) as number);
    c.pump();
    expect(c.get(follower).readStates).toEqual([{ ctx: "f", index: -1 }]);
  });

  test("leader without quorum does not answer; fails the read with -1 when it steps down", () => {
    const c = newCluster(3, 43);
    const leader = c.elect();
    c.isolate(leader);
    c.core(leader).readIndex("r");
    c.pump();
    expect(c.get(leader).readStates).toEqual([]);
    c.tick([leader], 25);
    expect(c.core(leader).status().role).toBe("follower");
    expect(c.get(leader).readStates).toEqual([{ ctx: "r", index: -1 }]);
  });

  test("fault readIndexWithoutQuorum: an isolated leader answers at once (the checker's target)", () => {
    const c = newCluster(3, 43, { faults: { readIndexWithoutQuorum: true } });
    const leader = c.elect();
    c.isolate(leader);
    c.core(leader).readIndex("r");
    c.pump();
    expect(c.get(leader).readStates.length).toBe(1);
  });

  test("a new leader queues reads until it has committed an entry of its term", () => {
    const c = newCluster(3, 44, { preVote: false });
    c.filters.push((m) => m.type === "append_resp");
    c.core(1).campaign();
    c.pump();
    expect(c.core(1).status().role).toBe("leader");
    c.core(1).readIndex("early");
    c.pump();
    expect(c.get(1).readStates).toEqual([]);
    c.heal();
    c.tick([1, 2, 3], 2);
    const noopIndex = c.core(1).status().commit;
    expect(c.get(1).readStates).toEqual([{ ctx: "early", index: noopIndex }]);
  });

  test("single-voter leader answers immediately", () => {
    const c = newCluster(1, 45);
    c.core(1).campaign();
    c.pump();
    c.core(1).readIndex("r");
    c.pump();
    expect(c.get(1).readStates).toEqual([{ ctx: "r", index: c.core(1).status().commit }]);
  });

  test("follower: forwards to the leader and gets the leader's read index", () => {
    const c = newCluster(3, 46);
    const leader = c.elect();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    c.core(leader).propose(enc("x"));
    c.pump();
    expect(c.core(follower).readIndex("f1")).toEqual({ ok: true });
    c.pump();
    expect(c.get(follower).readStates).toEqual([{ ctx: "f1", index: c.core(leader).status().commit }]);
    expect(c.sent.some((m) => m.type === "read_index" && m.from === follower)).toBe(true);
  });

  test("follower without a leader refuses at once", () => {
    const c = newCluster(3, 47);
    expect(c.core(2).readIndex("x")).toEqual({ ok: false, error: "no_leader", leaderId: 0 });
  });

  test("a read forwarded to a node that is no longer leader gets index -1", () => {
    const c = newCluster(3, 48);
    const leader = c.elect();
    const [a, b] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    const term = c.core(a).status().term;
    c.filters.push((m) => m.type === "read_index");
    expect(c.core(b).readIndex("z").ok).toBe(true);
    c.pump();
    // The forwarded request reaches a follower instead (as if b's view of the leader were stale).
    c.core(a).step({ type: "read_index", from: b, to: a, term, ctx: "z" });
    c.pump();
    expect(c.get(b).readStates).toEqual([{ ctx: "z", index: -1 }]);
  });
});

describe("leadership transfer", () => {
  test("transfer to an up-to-date follower: it becomes leader in the next term", () => {
    const c = newCluster(3, 51);
    const leader = c.elect();
    const target = [1, 2, 3].find((id) => id !== leader) as number;
    const term = c.core(leader).status().term;
    expect(c.core(leader).transferLeadership(target)).toEqual({ ok: true });
    c.pump();
    expect(c.leaders()).toEqual([target]);
    expect(c.core(target).status().term).toBe(term + 1);
    expect(c.sent.some((m) => m.type === "timeout_now" && m.to === target)).toBe(true);
  });

  test("a lagging target is caught up first; proposals are refused meanwhile", () => {
    const c = newCluster(3, 52);
    const leader = c.elect();
    const target = [1, 2, 3].find((id) => id !== leader) as number;
    const f = c.isolate(target);
    for (let i = 0; i < 5; i++) c.core(leader).propose(enc(`v${i}`));
    c.pump();
    c.filters = c.filters.filter((x) => x !== f);
    expect(c.core(leader).transferLeadership(target)).toEqual({ ok: true });
    expect(c.core(leader).propose(enc("no"))).toEqual({ ok: false, error: "transfer_in_progress", leaderId: leader });
    c.pump();
    c.tick(undefined, 2);
    expect(c.leaders()).toEqual([target]);
    expect(c.get(target).applied).toContain("v4");
    const timeoutNow = c.sent.findIndex((m) => m.type === "timeout_now");
    const lastAppend = c.sent.findLastIndex((m) => m.type === "append" && m.to === target && m.from === leader && m.entries.length > 0);
    expect(timeoutNow).toBeGreaterThan(lastAppend);
  });

  test("a transfer to an unreachable target is aborted after an election timeout", () => {
    const c = newCluster(3, 53, { checkQuorum: false });
    const leader = c.elect();
    const target = [1, 2, 3].find((id) => id !== leader) as number;
    c.isolate(target);
    c.core(leader).propose(enc("x"));
    c.pump();
    c.core(leader).transferLeadership(target);
    expect(c.core(leader).status().leadTransferee).toBe(target);
    c.tick([leader], 10);
    expect(c.core(leader).status().leadTransferee).toBe(0);
    expect(c.core(leader).status().role).toBe("leader");
    expect(c.core(leader).propose(enc("y")).ok).toBe(true);
  });

  test("transfer validation", () => {
    const c = newCluster(3, 54);
    const leader = c.elect();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    expect(c.core(leader).transferLeadership(9)).toEqual({ ok: false, error: "unknown_member", leaderId: leader });
    expect(c.core(follower).transferLeadership(leader)).toEqual({ ok: false, error: "not_leader", leaderId: leader });
  });
});
