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
});
