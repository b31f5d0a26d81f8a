// Restart configuration (thesis §4.1): a node uses the latest configuration in its log, committed or not,
// because the commit index on disk may lag. Regression for a split brain seen with the binary: a bootstrap
// leader killed with -9 restarted alone in its one-voter configuration and elected itself beside the cluster.
import { expect, test } from "bun:test";
import { RaftCore } from "../../src/raft/raft.ts";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { bootstrapState } from "../../src/raft/bootstrap.ts";
import { createRand } from "../../src/raft/rand.ts";
import type { ConfChange, Entry, HardState } from "../../src/raft/types.ts";

const member = (id: number) => ({ id, raftAddr: `r${id}`, httpAddr: `h${id}` });
const conf = (index: number, term: number, type: ConfChange["type"], id: number): Entry => ({ kind: "conf", index, term, change: { type, ...member(id) } });

function restart(entries: Entry[], hardState: HardState): RaftCore {
  const storage = new MemoryStorage();
  storage.append(entries);
  storage.setHardState(hardState);
  return new RaftCore({
    id: 1, log: storage, hardState, applied: 0, electionTicks: 10, heartbeatTicks: 1, rand: createRand(7),
    preVote: true, checkQuorum: true, maxInflight: 64, maxBytesPerMessage: 1 << 20, maxEntriesPerMessage: 64, maxUncommittedEntries: 1000,
  });
}

const grown: Entry[] = [
  ...bootstrapState({ ...member(1), role: "voter" }).entries,
  { kind: "noop", index: 3, term: 2 },
  conf(4, 2, "add_learner", 2), conf(5, 2, "promote", 2), conf(6, 2, "add_learner", 3), conf(7, 2, "promote", 3),
];

test("a node whose stored commit lags its conf entries restarts in the latest configuration and cannot elect itself alone", () => {
  const core = restart(grown, { term: 2, vote: 1, commit: 2 });
  expect(core.status().members.map((m) => `${m.id}:${m.role}`)).toEqual(["1:voter", "2:voter", "3:voter"]);
  core.campaign();
  for (let i = 0; i < 50; i++) core.tick();
  expect(core.status().role).not.toBe("leader");
});

test("a conf entry in effect since restart is undone when the leader replaces it", () => {
  const core = restart(grown, { term: 2, vote: 1, commit: 5 });
  expect(core.status().members.map((m) => m.id)).toEqual([1, 2, 3]);
  // Leader 2 of term 3 replaces indexes 6.. (node 3 was never added in its log).
  core.step({ type: "append", from: 2, to: 1, term: 3, prevIndex: 5, prevTerm: 2, entries: [{ kind: "noop", index: 6, term: 3 }], commit: 6 });
  expect(core.status().members.map((m) => `${m.id}:${m.role}`)).toEqual(["1:voter", "2:voter"]);
});
