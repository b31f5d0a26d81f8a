import { describe, expect, test } from "bun:test";
import type { ConfChange, Message } from "../../src/raft/types.ts";
import { Cluster, confOf, enc, member, newCluster } from "./harness.ts";

function change(type: ConfChange["type"], id: number): ConfChange {
  const m = member(id);
  return { type, id, raftAddr: m.raftAddr, httpAddr: m.httpAddr };
}

/** commitChange proposes a conf change on the leader and runs the cluster until it committed. */
function commitChange(c: Cluster, leader: number, ch: ConfChange): void {
  const r = c.core(leader).proposeConfChange(ch);
  expect(r.ok).toBe(true);
  c.pump();
  c.tick(undefined, 2);
}

describe("membership", () => {
  test("add learner → it catches up but never campaigns → promote → it votes", () => {
    const c = newCluster(3, 61);
    const leader = c.elect();
    for (let i = 0; i < 5; i++) c.core(leader).propose(enc(`v${i}`));
    c.pump();
    c.add(4, confOf([1, 2, 3])); // a joiner starts from the same base as the log (here an index-0 conf)
    commitChange(c, leader, change("add_learner", 4));
    expect(c.core(leader).status().members.find((m) => m.id === 4)?.role).toBe("learner");
    c.tick(undefined, 3);
    expect(c.get(4).applied).toEqual(c.get(leader).applied);
    expect(c.core(4).status().members.map((m) => m.id)).toEqual([1, 2, 3, 4]);
    c.tick([4], 50);
    expect(c.core(4).status().role).toBe("follower");
    commitChange(c, leader, change("promote", 4));
    expect(c.core(4).status().members.find((m) => m.id === 4)?.role).toBe("voter");
    // Now a 4-voter cluster needs 3 acks: with two followers isolated nothing commits.
    const others = [1, 2, 3, 4].filter((id) => id !== leader);
    c.isolate(others[0] as number);
    c.isolate(others[1] as number);
    const r = c.core(leader).propose(enc("needs-3"));
    c.tick([leader], 3);
    expect(c.core(leader).status().commit).toBeLessThan((r as { index: number }).index);
  });

  test("one change at a time: change_in_progress until the first commits; invalid changes are bad_change", () => {
    const c = newCluster(3, 62);
    const leader = c.elect();
    expect(c.core(leader).proposeConfChange(change("add_learner", 4)).ok).toBe(true);
    expect(c.core(leader).proposeConfChange(change("add_learner", 5))).toEqual({ ok: false, error: "change_in_progress", leaderId: leader });
    c.pump();
    c.tick(undefined, 2);
    expect(c.core(leader).proposeConfChange(change("add_learner", 4))).toEqual({ ok: false, error: "bad_change", leaderId: leader });
    expect(c.core(leader).proposeConfChange(change("promote", 2))).toEqual({ ok: false, error: "bad_change", leaderId: leader });
    expect(c.core(leader).proposeConfChange(change("remove", 9))).toEqual({ ok: false, error: "bad_change", leaderId: leader });
    expect(c.core(leader).proposeConfChange(change("update_addr", 9))).toEqual({ ok: false, error: "bad_change", leaderId: leader });
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    expect(c.core(follower).proposeConfChange(change("add_learner", 7))).toEqual({ ok: false, error: "not_leader", leaderId: leader });
  });

  test("config takes effect on commit, not on append", () => {
    const c = newCluster(3, 63);
    const leader = c.elect();
    for (const id of [1, 2, 3]) if (id !== leader) c.isolate(id);
    expect(c.core(leader).proposeConfChange(change("add_learner", 4)).ok).toBe(true);
    c.pump();
    expect(c.core(leader).status().members.length).toBe(3);
    c.heal();
    c.tick(undefined, 2);
    expect(c.core(leader).status().members.length).toBe(4);
  });

  test("remove a follower; then remove the leader: it steps down and the rest elect a new one", () => {
    const c = newCluster(4, 64);
    const leader = c.elect();
    const victim = [1, 2, 3, 4].find((id) => id !== leader) as number;
    commitChange(c, leader, change("remove", victim));
    expect(c.core(leader).status().members.map((m) => m.id)).not.toContain(victim);
    c.nodes.delete(victim);
    commitChange(c, leader, change("remove", leader));
    expect(c.core(leader).status().role).toBe("follower");
    const rest = [1, 2, 3, 4].filter((id) => id !== leader && id !== victim);
    for (let i = 0; i < 100 && !rest.some((id) => c.core(id).status().role === "leader"); i++) c.tick(rest);
    const next = rest.find((id) => c.core(id).status().role === "leader") as number;
    expect(next).toBeDefined();
    expect(c.core(next).status().members.map((m) => m.id).sort()).toEqual(rest.sort());
    // The removed leader never campaigns again.
    c.tick([leader], 50);
    expect(c.core(leader).status().role).toBe("follower");
  });

  test("update_addr changes a member's addresses and keeps its role", () => {
    const c = newCluster(3, 65);
    const leader = c.elect();
    const r = c.core(leader).proposeConfChange({ type: "update_addr", id: 2, raftAddr: "10.0.0.2:1", httpAddr: "10.0.0.2:2" });
    expect(r.ok).toBe(true);
    c.pump();
    c.tick(undefined, 2);
    for (const id of [1, 2, 3]) {
      expect(c.core(id).status().members.find((m) => m.id === 2)).toMatchObject({ role: "voter", raftAddr: "10.0.0.2:1", httpAddr: "10.0.0.2:2" });
    }
  });

  test("restart rebuilds the configuration from snapshot conf + committed conf entries", () => {
    const c = newCluster(3, 66);
    const leader = c.elect();
    c.add(4, confOf([1, 2, 3])); // a joiner starts from the same base as the log (here an index-0 conf)
    commitChange(c, leader, change("add_learner", 4));
    commitChange(c, leader, change("promote", 4));
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    c.restart(follower);
    expect(c.core(follower).status().members.map((m) => `${m.id}:${m.role}`)).toEqual(["1:voter", "2:voter", "3:voter", "4:voter"]);
    c.restart(4);
    expect(c.core(4).status().members.length).toBe(4);
  });
});

describe("snapshots", () => {
  test("a learner added after compaction receives a snapshot, restores, then replicates", () => {
    const c = newCluster(3, 71);
    const leader = c.elect();
    for (let i = 0; i < 10; i++) c.core(leader).propose(enc(`v${i}`));
    c.pump();
    c.tick(undefined, 2);
    const commit = c.core(leader).status().commit;
    for (const id of [1, 2, 3]) c.get(id).storage.compact(commit, confOf([1, 2, 3]));
    expect(c.core(leader).status().firstIndex).toBe(commit + 1);
    c.add(4, { members: [] }); // knows nothing: the snapshot brings the configuration
    commitChange(c, leader, change("add_learner", 4));
    c.tick(undefined, 3);
    const snaps = c.sent.filter((m): m is Extract<Message, { type: "snapshot" }> => m.type === "snapshot" && m.to === 4);
    expect(snaps.length).toBe(1);
    expect(snaps[0]?.snapshot.index).toBe(commit);
    expect(c.get(4).snapshotsInstalled.map((s) => s.index)).toEqual([commit]);
    expect(c.get(4).storage.snapshotMeta().index).toBe(commit);
    expect(c.get(4).applied[0]).toBe(`snapshot@${commit}`);
    expect(c.get(4).applied.slice(1)).toEqual(["conf:add_learner:4"]);
    expect(c.core(4).status().members.map((m) => m.id)).toEqual([1, 2, 3, 4]);
    c.core(leader).propose(enc("after"));
    c.pump();
    c.tick(undefined, 2);
    expect(c.get(4).applied.at(-1)).toBe("after");
    expect(c.core(leader).status().members.find((m) => m.id === 4)?.matchIndex).toBe(c.core(leader).status().lastIndex);
  });

  test("a follower that fell behind a compaction is restored from a snapshot and survives a restart", () => {
    const c = newCluster(3, 72);
    const leader = c.elect();
    const lagger = [1, 2, 3].find((id) => id !== leader) as number;
    const f = c.isolate(lagger);
    for (let i = 0; i < 10; i++) c.core(leader).propose(enc(`v${i}`));
    c.pump();
    c.tick([1, 2, 3].filter((id) => id !== lagger), 2);
    const commit = c.core(leader).status().commit;
    c.get(leader).storage.compact(commit, confOf([1, 2, 3]));
    c.filters = c.filters.filter((x) => x !== f);
    c.tick(undefined, 3);
    expect(c.get(lagger).snapshotsInstalled.map((s) => s.index)).toEqual([commit]);
    expect(c.core(lagger).status().commit).toBe(commit);
    c.restart(lagger);
    expect(c.core(lagger).status()).toMatchObject({ commit, applied: commit, snapshotIndex: commit, firstIndex: commit + 1 });
    c.core(leader).propose(enc("later"));
    c.pump();
    c.tick(undefined, 2);
    expect(c.get(lagger).applied.at(-1)).toBe("later");
  });

  test("a snapshot at or below the follower's commit is ignored and acked with its commit", () => {
    const c = newCluster(3, 73);
    const leader = c.elect();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    const st = c.core(follower).status();
    c.core(follower).step({ type: "snapshot", from: leader, to: follower, term: st.term, snapshot: { index: 1, term: 1, conf: confOf([1, 2, 3]) } });
    const rd = c.core(follower).ready();
    expect(rd.snapshot).toBeNull();
    expect(rd.messagesAfterPersist).toEqual([{ type: "append_resp", from: follower, to: leader, term: st.term, index: st.commit, reject: false, hintIndex: 0, hintTerm: 0 }]);
    c.core(follower).advance(rd);
  });

  test("a failed snapshot transfer is retried", () => {
    const c = newCluster(3, 74);
    const leader = c.elect();
    const lagger = [1, 2, 3].find((id) => id !== leader) as number;
    const f = c.isolate(lagger);
    for (let i = 0; i < 5; i++) c.core(leader).propose(enc(`v${i}`));
    c.pump();
    c.get(leader).storage.compact(c.core(leader).status().commit, confOf([1, 2, 3]));
    c.tick([leader], 1); // heartbeat → (dropped) … the leader sends appends / a snapshot only on responses
    c.filters = c.filters.filter((x) => x !== f);
    c.filters.push((m) => m.type === "snapshot");
    c.tick(undefined, 2);
    const first = c.sent.filter((m) => m.type === "snapshot").length;
    expect(first).toBeGreaterThanOrEqual(1);
    c.core(leader).reportSnapshot(lagger, false);
    c.heal();
    c.tick(undefined, 3);
    expect(c.sent.filter((m) => m.type === "snapshot").length).toBeGreaterThan(first);
    expect(c.get(lagger).appliedIndex).toBe(c.core(leader).status().commit);
  });
});
