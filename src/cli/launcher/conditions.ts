import type { StatusJson } from "../../node/api.ts";
import { check } from "./check.ts";
import { notYet, waitFor } from "./wait.ts";

// conditions.ts: the waits every cluster user needs, each a poll of the nodes' /status under a deadline that
// says what it saw last on timeout. They ask the cluster only the questions in ClusterProbe (the Launcher).

/** ClusterProbe: what the conditions ask of a cluster (the Launcher answers). */
export interface ClusterProbe {
  running(): number[];
  isRunning(id: number): boolean;
  describeExit(id: number): string;
  status(id: number, timeoutMs?: number): Promise<StatusJson | null>;
  statuses(ids?: number[]): Promise<Map<number, StatusJson>>;
}

export interface LeaderView {
  leaderId: number;
  term: number;
  statuses: Map<number, StatusJson>;
}

/** waitHttp waits until node `id` answers GET /status; it fails at once if the node exits. */
export function waitHttp(cluster: ClusterProbe, id: number, deadlineMs: number): Promise<StatusJson> {
  return waitFor(
    async () => {
      check(cluster.isRunning(id), `node ${id} exited (${cluster.describeExit(id)}) while starting`);
      return cluster.status(id, 1000);
    },
    { deadlineMs, what: `node ${id} to answer GET /status` },
  );
}

/**
 * waitForLeader waits until every node of `among` (default: the running ones) answers, exactly one of them
 * says is_leader, and all report that leader's id and the same term. Returns that view.
 */
export function waitForLeader(cluster: ClusterProbe, options: { among?: number[]; deadlineMs?: number; what?: string }): Promise<LeaderView> {
  const deadlineMs = options.deadlineMs ?? 20_000;
  return waitFor(
    async () => {
      const among = options.among ?? cluster.running();
      for (const id of among) check(cluster.isRunning(id), `node ${id} exited (${cluster.describeExit(id)})`);
      const statuses = await cluster.statuses(among);
      if (statuses.size !== among.length) return notYet({ not_answering: among.filter((id) => !statuses.has(id)), ...summarize(statuses) });
      const leaders = [...statuses.values()].filter((s) => s.is_leader);
      const leader = leaders[0];
      if (leaders.length !== 1 || leader === undefined) return notYet(summarize(statuses));
      for (const s of statuses.values()) {
        if (s.leader_id !== leader.id || s.term !== leader.term) return notYet(summarize(statuses));
      }
      const view: LeaderView = { leaderId: leader.id, term: leader.term, statuses };
      return view;
    },
    { deadlineMs, what: options.what ?? `one leader agreed on by nodes ${(options.among ?? cluster.running()).join(", ")}` },
  );
}

/** waitForVoters waits until node `via` lists exactly `voters` as voters (and no learners). */
export function waitForVoters(cluster: ClusterProbe, via: number, voters: number[], deadlineMs: number): Promise<StatusJson> {
  const want = [...voters].sort((a, b) => a - b);
  return waitFor(
    async () => {
      const status = await cluster.status(via);
      if (status === null) return null;
      const got = status.members.filter((m) => m.role === "voter").map((m) => m.id).sort((a, b) => a - b);
      const learners = status.members.filter((m) => m.role !== "voter");
      const done = JSON.stringify(got) === JSON.stringify(want) && learners.length === 0;
      return done ? status : notYet({ voters: got, learners: learners.map((m) => m.id) });
    },
    { deadlineMs, what: `node ${via} to list voters ${want.join(", ")}` },
  );
}

/** waitConverged waits until `ids` all applied the same index with the same kv_hash; returns that index. */
export function waitConverged(cluster: ClusterProbe, ids: number[], deadlineMs: number): Promise<number> {
  return waitFor(
    async () => {
      const statuses = await cluster.statuses(ids);
      if (statuses.size !== ids.length) return null;
      const list = [...statuses.values()];
      const first = list[0]!;
      const same = list.every(
        (s) => s.applied_index === first.applied_index && s.kv_hash === first.kv_hash && s.applied_index >= s.commit_index,
      );
      return same ? first.applied_index : notYet(list.map((s) => ({ id: s.id, applied: s.applied_index, commit: s.commit_index, hash: s.kv_hash })));
    },
    { deadlineMs, what: `nodes ${ids.join(", ")} to reach the same applied index and kv_hash` },
  );
}

function summarize(statuses: Map<number, StatusJson>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, s] of statuses) out[`n${id}`] = { leader: s.leader_id, term: s.term, is_leader: s.is_leader };
  return out;
}
