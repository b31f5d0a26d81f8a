// What the core hands out before the driver's write finished: nothing that depends on state not yet durable,
// and nothing that must follow a snapshot the driver has not installed yet.
import { describe, expect, test } from "bun:test";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { createRand } from "../../src/raft/rand.ts";
import type { ConfState, Entry, Message, NodeId, RaftConfig, Ready } from "../../src/raft/types.ts";
import { confOf } from "./harness.ts";

const disks = new WeakMap<RaftCore, MemoryStorage>();

/** persist does the driver's write of a Ready (entries, hard state) on the core's disk. */
function persist(r: RaftCore, rd: Ready): void {
  const disk = disks.get(r);
  if (!disk) throw new Error("no disk");
  disk.append(rd.entries);
  if (rd.hardState) disk.setHardState(rd.hardState);
}

function coreOn(id: NodeId, conf: ConfState, term: number): RaftCore {
  const disk = new MemoryStorage();
  disk.applySnapshot({ index: 1, term: 1, conf });
  disk.setHardState({ term, vote: 0, commit: 1 });
  const config: RaftConfig = {
    id,
    log: disk,
    hardState: disk.hardState,
    applied: 1,
    electionTicks: 10,
    heartbeatTicks: 1,
    rand: createRand(id),
    preVote: true,
    checkQuorum: true,
    maxInflight: 64,
    maxBytesPerMessage: 1 << 20,
    maxEntriesPerMessage: 64,
    maxUncommittedEntries: 10_000,
  };
  const core = new RaftCore(config);
  disks.set(core, disk);
  return core;
}

function noops(term: number, from: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ kind: "noop", index: i, term });
  return out;
}

function append(to: NodeId, prevIndex: number, prevTerm: number, entries: Entry[], commit: number): Message {
  return { type: "append", from: 1, to, term: 2, prevIndex, prevTerm, entries, commit };
}

describe("ready durability", () => {
  test("takeCommitted hands out nothing past a snapshot restored while a Ready is outstanding", () => {
    const r = coreOn(3, confOf([1, 2, 3]), 2);
    r.step(append(3, 1, 1, noops(2, 2, 3), 1));
    const first = r.ready();
    expect(first.snapshot).toBeNull();
    // While the driver writes entries 2..3, leader 1 sends a snapshot at 10, then entries after it, committed.
    r.step({ type: "snapshot", from: 1, to: 3, term: 2, snapshot: { index: 10, term: 2, conf: confOf([1, 2, 3]) } });
    r.step(append(3, 10, 2, noops(2, 11, 12), 12));
    // The driver's state machine is still at 1: entries 11..12 must wait until the snapshot is installed.
    expect(r.takeCommitted()).toEqual([]);
    persist(r, first);
    r.advance(first);
    const second = r.ready();
    expect(second.snapshot?.index).toBe(10);
    expect(second.committed.map((e) => e.index)).toEqual([11, 12]);
    r.advance(second);
    expect(r.status().applied).toBe(12);
  });

  test("takeCommitted still hands out entries committed during an outstanding Ready without a snapshot", () => {
    const r = coreOn(3, confOf([1, 2, 3]), 2);
    r.step(append(3, 1, 1, noops(2, 2, 3), 1));
    const first = r.ready();
    r.step(append(3, 3, 2, noops(2, 4, 4), 3));
    expect(r.takeCommitted().map((e) => e.index)).toEqual([2, 3]);
    persist(r, first);
    r.advance(first);
    expect(r.status().applied).toBe(3);
  });

  test("a sole voter that elects itself sends nothing of the new term before the term and vote are durable", () => {
    const r = coreOn(1, confOf([1], [2]), 1);
    r.campaign();
    expect(r.status().role).toBe("leader");
    const rd = r.ready();
    expect(rd.hardState).toMatchObject({ term: 2, vote: 1 });
    expect(rd.mustSync).toBe(true);
    // The append to learner 2 speaks for term 2: it waits for the write.
    expect(rd.messages).toEqual([]);
    expect(rd.messagesAfterPersist.some((m) => m.type === "append" && m.to === 2 && m.term === 2)).toBe(true);
    persist(r, rd);
    r.advance(rd);
    // Once the term is durable, the leader's appends go out beside its own writes again.
    r.step({ type: "append_resp", from: 2, to: 1, term: 2, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
    r.propose(new TextEncoder().encode("x"));
    const next = r.ready();
    expect(next.hardState === null || next.hardState.term === 2).toBe(true);
    expect(next.messages.some((m) => m.type === "append" && m.to === 2)).toBe(true);
  });

  test("a follower that learns a new term from a heartbeat answers only after persisting it", () => {
    const r = coreOn(3, confOf([1, 2, 3]), 1);
    r.step({ type: "heartbeat", from: 1, to: 3, term: 2, commit: 1, ctx: "" });
    const rd = r.ready();
    expect(rd.hardState?.term).toBe(2);
    expect(rd.messages).toEqual([]);
    expect(rd.messagesAfterPersist.map((m) => `${m.type}:${m.term}`)).toEqual(["heartbeat_resp:2"]);
  });

  describe("takeMessages (what a leader may ship while its own write runs)", () => {
    /** leaderOf3: node 1 elected leader of {1,2,3} in term 2, its first Ready (the noop at 2) written and advanced. */
    function leaderOf3(): RaftCore {
      const r = coreOn(1, confOf([1, 2, 3]), 1);
      r.campaign();
      const pre = r.ready();
      persist(r, pre);
      r.advance(pre);
      r.step({ type: "pre_vote_resp", from: 2, to: 1, term: 2, reject: false });
      const vote = r.ready();
      persist(r, vote);
      r.advance(vote);
      r.step({ type: "vote_resp", from: 2, to: 1, term: 2, reject: false });
      expect(r.status().role).toBe("leader");
      const noop = r.ready();
      persist(r, noop);
      r.advance(noop);
      for (const from of [2, 3]) r.step(ack(from, 2));
      const commit = r.ready();
      r.advance(commit);
      expect(r.status().commit).toBe(2);
      return r;
    }

    function ack(from: NodeId, index: number): Message {
      return { type: "append_resp", from, to: 1, term: 2, index, reject: false, hintIndex: 0, hintTerm: 0 };
    }

    const data = new TextEncoder().encode("x");

    test("a proposal made while a Ready is written is shipped at once, and written by the next Ready", () => {
      const r = leaderOf3();
      r.propose(data);
      const first = r.ready();
      expect(first.entries.map((e) => e.index)).toEqual([3]);
      // While entry 3 is written, entry 4 arrives: its appends leave now, not after the write.
      r.propose(data);
      const early = r.takeMessages();
      expect(early.filter((m) => m.type === "append").map((m) => [m.to, m.type === "append" ? m.entries.map((e) => e.index) : []])).toEqual([
        [2, [4]],
        [3, [4]],
      ]);
      expect(r.takeMessages()).toEqual([]); // handed out once
      persist(r, first);
      r.advance(first);
      const second = r.ready();
      expect(second.entries.map((e) => e.index)).toEqual([4]);
      expect(second.messages.filter((m) => m.type === "append" && m.entries.length > 0)).toEqual([]); // not shipped twice
    });

    test("entries shipped early commit on both followers' acks, or on one once the leader's own write is advanced", () => {
      const r = leaderOf3();
      r.propose(data);
      const first = r.ready();
      r.propose(data);
      r.takeMessages();
      // One follower durable up to 4, the leader's write of 3 still running, 4 not even written: no commit.
      r.step(ack(2, 4));
      expect(r.status().commit).toBe(2);
      expect(r.takeCommitted()).toEqual([]);
      // The second follower makes 3 and 4 durable on a majority without the leader.
      r.step(ack(3, 4));
      expect(r.status().commit).toBe(4);
      expect(r.takeCommitted().map((e) => e.index)).toEqual([3, 4]);
      persist(r, first);
      r.advance(first);
      // A third entry acked by one follower commits once the leader's own write of it is advanced.
      r.propose(data);
      const second = r.ready();
      r.step(ack(2, 5));
      expect(r.status().commit).toBe(4);
      persist(r, second);
      r.advance(second);
      expect(r.status().commit).toBe(5);
    });

    test("a commit without new entries is not shipped early: it rides with the next Ready's appends", () => {
      const r = leaderOf3();
      r.propose(data);
      const first = r.ready();
      for (const from of [2, 3]) r.step(ack(from, 3));
      expect(r.status().commit).toBe(3);
      expect(r.takeMessages()).toEqual([]);
      // A proposal now: its appends leave early and carry the new commit index.
      r.propose(data);
      const early = r.takeMessages().filter((m) => m.type === "append");
      expect(early.map((m) => (m.type === "append" ? [m.to, m.entries.length, m.commit] : []))).toEqual([
        [2, 1, 3],
        [3, 1, 3],
      ]);
      persist(r, first);
      r.advance(first);
      expect(r.ready().messages.filter((m) => m.type === "append")).toEqual([]); // both followers were told
    });

    test("nothing leaves early while the outstanding Ready makes a new term or vote durable", () => {
      const r = coreOn(1, confOf([1], [2]), 1);
      r.campaign();
      const rd = r.ready();
      expect(rd.hardState).toMatchObject({ term: 2, vote: 1 });
      expect(rd.messagesAfterPersist.some((m) => m.type === "append" && m.to === 2 && m.term === 2)).toBe(true);
      const index = r.propose(data);
      r.tick(); // a heartbeat of term 2 to learner 2 (a paused probe gets no append): it waits too
      expect(r.takeMessages()).toEqual([]);
      persist(r, rd);
      r.advance(rd);
      const next = r.ready();
      expect(next.entries.map((e) => e.index)).toEqual([index.ok ? index.index : -1]);
    });

    test("a follower's acks never leave early, and nothing does without an outstanding Ready", () => {
      const r = coreOn(3, confOf([1, 2, 3]), 2);
      r.step(append(3, 1, 1, noops(2, 2, 3), 1));
      const first = r.ready();
      r.step(append(3, 3, 2, noops(2, 4, 4), 1));
      expect(r.takeMessages()).toEqual([]);
      persist(r, first);
      r.advance(first);
      expect(r.takeMessages()).toEqual([]);
      const second = r.ready();
      expect(second.messagesAfterPersist.map((m) => (m.type === "append_resp" ? m.index : -1))).toEqual([4]);
    });
  });
});
