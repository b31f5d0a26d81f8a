import { describe, expect, test } from "bun:test";
import { judgeHashes, type HashSample } from "../../src/cli/consistency_check.ts";
import type { StatusJson } from "../../src/node/api.ts";

function status(id: number, index: number, hash: string, keys = 10): StatusJson {
  return {
    id, state: id === 1 ? "leader" : "follower", is_leader: id === 1, leader_id: 1, leader_http_addr: "127.0.0.1:8001",
    term: 2, commit_index: index, applied_index: index, last_log_index: index, snapshot_index: 0,
    raft_addr: `127.0.0.1:1200${id}`, http_addr: `127.0.0.1:800${id}`, members: [], cluster_id: "c",
    kv_hash: hash, kv_hash_index: index, kv_keys: keys, snapshots_installed: 0,
  };
}

const sample = (id: number, index: number, hash: string): HashSample => ({ id, status: status(id, index, hash) });

describe("judgeHashes", () => {
  test("equal hashes at one index agree", () => {
    expect(judgeHashes([sample(1, 7, "aa"), sample(2, 7, "aa"), sample(3, 7, "aa")])).toEqual({ kind: "agree", index: 7, hash: "aa", keys: 10, ids: [1, 2, 3] });
  });

  test("a different hash at the same index is divergence, naming each node", () => {
    const verdict = judgeHashes([sample(1, 7, "aa"), sample(2, 7, "bb"), sample(3, 7, "aa")]);
    expect(verdict.kind).toBe("diverged");
    if (verdict.kind === "diverged") expect(verdict.hashes.map((h) => `${h.id}:${h.hash}`)).toEqual(["1:aa", "2:bb", "3:aa"]);
  });

  test("different applied indexes cannot be compared yet, even with different hashes", () => {
    const verdict = judgeHashes([sample(1, 8, "aa"), sample(2, 7, "bb")]);
    expect(verdict).toEqual({ kind: "waiting", reason: "applied indexes differ: n1=8 n2=7" });
  });

  test("an unreachable member makes the round inconclusive", () => {
    expect(judgeHashes([sample(1, 7, "aa"), { id: 3, status: null }])).toEqual({ kind: "waiting", reason: "unreachable: node 3" });
    expect(judgeHashes([]).kind).toBe("waiting");
  });
});
