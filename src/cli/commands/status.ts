import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { statusArgs } from "../args.ts";
import type { ClusterView } from "../cluster_view.ts";
import { print, table } from "../format.ts";
import { parseDuration } from "../parse.ts";

/** statusCommand: `qklzl status` prints every member's role, state, term and indexes; the leader is starred. */
export const statusCommand = defineCommand({
  meta: { name: "status", description: "Show every member: role, state, term, commit/applied index, leader marked" },
  args: statusArgs,
  async run({ args }) {
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { clusterView } = await import("../cluster_view.ts");
    const view = await clusterView(args.addr, timeoutMs);
    if (args.json) {
      print(JSON.stringify(viewJson(view), null, 2));
      return;
    }
    print(renderStatus(view));
  },
});

function viewJson(view: ClusterView) {
  return {
    leader_id: view.source.leader_id,
    term: view.source.term,
    fault_tolerance: view.source.fault_tolerance ?? null,
    members: view.members.map(({ member, status, error }) => ({ ...member, status, error })),
  };
}

/** renderStatus: a table with one row per member, then a one-line summary. */
export function renderStatus(view: ClusterView): string {
  const rows = view.members.map(({ member, status, error }) => {
    const leader = status?.is_leader === true ? "*" : "";
    if (status === null) {
      return [`${member.id}${leader}`, member.role, "unreachable", "-", "-", "-", "-", String(member.match_index), member.http_addr, member.raft_addr, error ?? "unreachable"];
    }
    return [
      `${member.id}${leader}`,
      member.role,
      status.state,
      String(status.term),
      String(status.commit_index),
      String(status.applied_index),
      String(status.last_log_index),
      view.source.is_leader ? String(member.match_index) : "-",
      member.http_addr,
      member.raft_addr,
      "",
    ];
  });
  const leaderId = view.source.leader_id;
  const summary = leaderId === 0
    ? `no leader known (asked node ${view.source.id}, term ${view.source.term})`
    : `leader: node ${leaderId} at ${view.source.leader_http_addr || view.source.http_addr}, term ${view.source.term}`;
  const headers = ["ID", "ROLE", "STATE", "TERM", "COMMIT", "APPLIED", "LAST", "MATCH", "HTTP", "RAFT", "ERROR"];
  // The ERROR column appears only when some member could not be read.
  const shown = rows.some((row) => row[10] !== "") ? headers : headers.slice(0, -1);
  const warnings = healthWarnings(view);
  return [table(shown, rows.map((row) => row.slice(0, shown.length))), summary, ...warnings].join("\n");
}

/**
 * healthWarnings: the lines an operator must not miss, from the leader's view when one answered (a node of an
 * older version reports no fault_tolerance and gets no warning).
 */
export function healthWarnings(view: ClusterView): string[] {
  const source = view.source;
  const out: string[] = [];
  // "unknown": a follower without a fresh copy of the leader's figure says 0 without knowing; no warning then.
  if (source.leader_id !== 0 && source.fault_tolerance === 0 && source.fault_tolerance_source !== "unknown") {
    const voters = view.members.filter((m) => m.member.role === "voter").length;
    const learners = view.members.filter((m) => m.member.role === "learner").map((m) => m.member.id);
    const why = learners.length > 0 ? `; learners ${learners.join(",")} do not count until promoted` : "";
    out.push(`warning: fault tolerance 0: losing one more voter stops writes (${voters} voters${why})`);
  }
  for (const l of source.silent_learners ?? []) {
    out.push(`warning: learner ${l.id} not heard from for ${(l.silent_ms / 1000).toFixed(0)} s (restart it, or \`qklzl leave ${l.id}\`)`);
  }
  return out;
}
