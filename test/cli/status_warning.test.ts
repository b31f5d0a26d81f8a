import { expect, test } from "bun:test";
import type { MemberJson, StatusJson } from "../../src/node/api.ts";
import type { ClusterView } from "../../src/cli/cluster_view.ts";
import { renderStatus } from "../../src/cli/commands/status.ts";

// `qklzl status` warns under its table when the leader's fault tolerance is 0 or a learner is silent (issue 10
// item 6); a healthy cluster, and a node that does not know the leader's figure, print no warning.

function member(id: number, role: "voter" | "learner"): MemberJson {
  return { id, role, raft_addr: `127.0.0.1:${12000 + id}`, http_addr: `127.0.0.1:${8000 + id}`, match_index: 9 };
}

function view(extra: Partial<StatusJson>, members: MemberJson[]): ClusterView {
  const source: StatusJson = {
    id: 1, state: "leader", is_leader: true, leader_id: 1, leader_http_addr: "127.0.0.1:8001", term: 2,
    commit_index: 9, applied_index: 9, last_log_index: 9, snapshot_index: 0, raft_addr: "127.0.0.1:12001",
    http_addr: "127.0.0.1:8001", members, cluster_id: "c", kv_hash: "0", kv_hash_index: 9, kv_keys: 0,
    snapshots_installed: 0, ...extra,
  };
  return { source, members: members.map((m) => ({ member: m, status: m.id === 1 ? source : null, error: m.id === 1 ? null : "unreachable" })) };
}

test("fault tolerance 0 on the leader prints a warning naming the learners that do not count", () => {
  const out = renderStatus(view({ fault_tolerance: 0, fault_tolerance_source: "leader", silent_learners: [] }, [member(1, "voter"), member(2, "voter"), member(3, "learner")]));
  expect(out).toContain("warning: fault tolerance 0: losing one more voter stops writes (2 voters; learners 3 do not count until promoted)");
});

test("a silent learner gets its own warning line", () => {
  const out = renderStatus(view({ fault_tolerance: 1, fault_tolerance_source: "leader", silent_learners: [{ id: 4, silent_ms: 31_000 }] }, [member(1, "voter"), member(2, "voter"), member(3, "voter"), member(4, "learner")]));
  expect(out).toContain("warning: learner 4 not heard from for 31 s");
  expect(out).not.toContain("fault tolerance 0");
});

test("no warning on a healthy cluster, nor from a node without the leader's figure", () => {
  const voters = [member(1, "voter"), member(2, "voter"), member(3, "voter")];
  expect(renderStatus(view({ fault_tolerance: 1, fault_tolerance_source: "leader", silent_learners: [] }, voters))).not.toContain("warning");
  expect(renderStatus(view({ is_leader: false, state: "follower", fault_tolerance: 0, fault_tolerance_source: "unknown", silent_learners: [] }, voters))).not.toContain("warning");
});
