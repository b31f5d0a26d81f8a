// The classic Raft-lab log cases (MIT 6.5840 lab 3B) on the simulator. The checker runs throughout;
// these tests add the lab's expectations about what commits where.
import { describe, expect, test } from "bun:test";
import { ET, appliedPayloads, checkOneLeader, labCluster, one } from "./lab.ts";
import { reliableNetwork } from "./network.ts";

describe("sim lab: agreement", () => {
  test("basic agreement: each write commits everywhere at the next index", () => {
    const c = labCluster(3);
    checkOneLeader(c);
    let previous = 0;
    for (let i = 1; i <= 3; i++) {
      const index = one(c, `basic-${i}`, 3);
      if (previous > 0) expect(index).toBe(previous + 1);
      previous = index;
    }
    expect(appliedPayloads(c)).toEqual(["basic-1", "basic-2", "basic-3"]);
  });

  test("follower failure: progress with one follower gone, none with both gone", () => {
    const c = labCluster(3);
    one(c, "f-101", 3);
    const leader1 = checkOneLeader(c);
    c.disconnect(c.ids().find((id) => id !== leader1) ?? 0);
    one(c, "f-102", 2);
    c.run(ET);
    one(c, "f-103", 2);
    const leader2 = checkOneLeader(c);
    for (const id of c.ids()) if (id !== leader2) c.disconnect(id);
    const result = c.propose(leader2, "f-104");
    expect(result.ok).toBe(true);
    c.run(4 * ET);
    expect(appliedPayloads(c)).not.toContain("f-104");
  });

  test("leader failure: a new leader takes over; nothing commits once two of three are gone", () => {
    const c = labCluster(3);
    one(c, "l-101", 3);
    const leader1 = checkOneLeader(c);
    c.disconnect(leader1);
    one(c, "l-102", 2);
    c.run(ET);
    one(c, "l-103", 2);
    const leader2 = checkOneLeader(c);
    c.disconnect(leader2);
    for (const id of c.ids()) c.propose(id, "l-104");
    c.run(4 * ET);
    expect(appliedPayloads(c)).not.toContain("l-104");
  });

  test("no agreement without a majority: 3 of 5 followers cut off, then everyone agrees again", () => {
    const c = labCluster(5, { seed: 3 });
    one(c, "m-10", 5);
    const leader = checkOneLeader(c);
    const followers = c.ids().filter((id) => id !== leader);
    for (const id of followers.slice(0, 3)) c.disconnect(id);
    const result = c.propose(leader, "m-20");
    expect(result.ok).toBe(true);
    c.run(4 * ET);
    expect(appliedPayloads(c)).not.toContain("m-20");
    for (const id of followers.slice(0, 3)) c.connect(id);
    one(c, "m-30", 5);
    // m-20 may or may not have survived (the cut-off majority may have elected its own leader), never twice.
    expect(appliedPayloads(c).filter((p) => p === "m-20").length).toBeLessThanOrEqual(1);
  });

  test("concurrent proposals: five writes in the same tick all commit once, in one order everywhere", () => {
    const c = labCluster(3);
    const leader = checkOneLeader(c);
    const indexes = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const result = c.propose(leader, `c-${i}`);
      expect(result.ok).toBe(true);
      if (result.ok) indexes.add(result.index);
    }
    expect(indexes.size).toBe(5);
    expect(c.runUntil(() => [...indexes].every((index) => c.nCommitted(index) === 3), 10 * ET)).toBe(true);
    expect(appliedPayloads(c).sort()).toEqual(["c-0", "c-1", "c-2", "c-3", "c-4"]);
  });

  test("rejoin of a partitioned leader: its uncommitted writes are discarded, the cluster moves on", () => {
    const c = labCluster(3);
    one(c, "r-101", 3);
    const leader1 = checkOneLeader(c);
    c.disconnect(leader1);
    for (const p of ["r-102", "r-103", "r-104"]) c.propose(leader1, p);
    one(c, "r-105", 2);
    const leader2 = checkOneLeader(c);
    c.disconnect(leader2);
    c.connect(leader1);
    one(c, "r-106", 2);
    c.connect(leader2);
    one(c, "r-107", 3);
    const payloads = appliedPayloads(c);
    for (const lost of ["r-102", "r-103", "r-104"]) expect(payloads).not.toContain(lost);
    expect(payloads).toEqual(["r-101", "r-105", "r-106", "r-107"]);
  });

  test("fast backup: long divergent logs are repaired with few rejected appends", () => {
    // In-order links (like TCP), so that every rejection counted below is a log repair, not reordering.
    const net = { ...reliableNetwork, delayMin: 1, delayMax: 1, fifo: true };
    const c = labCluster(5, { seed: 11, net, core: { maxEntriesPerMessage: 64, maxBytesPerMessage: 4096 } });
    one(c, "b-first", 5);
    const leader1 = checkOneLeader(c);
    c.net.resetCounters();
    const ring = (k: number) => c.ids()[(c.ids().indexOf(leader1) + k) % 5] ?? 0;
    // leader1 and one follower accept 50 writes that can never commit.
    for (const k of [2, 3, 4]) c.disconnect(ring(k));
    for (let i = 0; i < 50; i++) c.propose(leader1, `b-lost-a${i}`);
    c.run(ET / 2);
    c.disconnect(ring(0));
    c.disconnect(ring(1));
    // The other three commit 50 writes of their own.
    for (const k of [2, 3, 4]) c.connect(ring(k));
    for (let i = 0; i < 50; i++) one(c, `b-kept-a${i}`, 3);
    // Their leader and one more follower now accept 50 writes that can never commit.
    const leader2 = checkOneLeader(c);
    const other = [ring(2), ring(3), ring(4)].find((id) => id !== leader2) ?? 0;
    c.disconnect(other);
    for (let i = 0; i < 50; i++) c.propose(leader2, `b-lost-b${i}`);
    c.run(ET / 2);
    // The original leader, its follower and `other` come back and commit 50 writes.
    for (const id of c.ids()) c.disconnect(id);
    c.connect(ring(0));
    c.connect(ring(1));
    c.connect(other);
    for (let i = 0; i < 50; i++) one(c, `b-kept-b${i}`, 3);
    for (const id of c.ids()) c.connect(id);
    one(c, "b-last", 5);
    const payloads = appliedPayloads(c);
    expect(payloads.some((p) => p.startsWith("b-lost"))).toBe(false);
    expect(payloads.filter((p) => p.startsWith("b-kept")).length).toBe(100);
    // Conflict-term hints skip a whole divergent term per round trip: two followers each holding 50
    // divergent entries are repaired with about one rejection apiece, not fifty (measured: 2).
    expect(c.net.rejectedAppends).toBeLessThanOrEqual(4);
  });

  test("message-count bound: ten writes cost a bounded number of messages", () => {
    const c = labCluster(3);
    checkOneLeader(c);
    c.net.resetCounters();
    const start = c.now;
    for (let i = 0; i < 10; i++) one(c, `count-${i}`, 3);
    const ticks = c.now - start;
    // Per write and follower: the entry's append + ack, the commit's append + ack, and at most two
    // more empty round trips (a heartbeat response while the entry is in flight re-probes): 8.
    const appends = c.net.messagesOfType("append") + c.net.messagesOfType("append_resp");
    expect(appends).toBeLessThanOrEqual(10 * 2 * 8);
    // Heartbeats: one round (2 requests + 2 responses) per heartbeat interval, never more.
    const heartbeats = c.net.messagesOfType("heartbeat") + c.net.messagesOfType("heartbeat_resp");
    expect(heartbeats).toBeLessThanOrEqual(Math.ceil(ticks / c.options.core.heartbeatTicks + 1) * 4);
    expect(c.net.sent).toBe(appends + heartbeats);
  });
});
