import type { MemberJson, StatusJson } from "../node/api.ts";
import { isQklzlError } from "../shared/errors.ts";
import { request } from "./client.ts";

/** MemberView: one member as the leader lists it, with its own /status (or why it could not be read). */
export interface MemberView {
  member: MemberJson;
  status: StatusJson | null;
  error: string | null;
}

export interface ClusterView {
  /** source is the node whose member list is shown: the leader when one is known and reachable. */
  source: StatusJson;
  members: MemberView[];
}

/**
 * requestStatus reads GET /status of one node for a command, never following redirects. It throws the client's
 * QklzlError (unreachable, timeout, the node's own error), which the command reports; a probe that polls wants
 * src/node/cluster_client.ts `fetchStatus` instead, which answers null for all of these.
 */
export async function requestStatus(addr: string, timeoutMs: number): Promise<StatusJson> {
  return (await request(addr, "GET", "/status", undefined, { timeoutMs, followLeader: false })) as StatusJson;
}

/**
 * clusterView asks `addr` for its status, prefers the leader's member list (it alone knows match indexes),
 * then reads every member's own /status in parallel. An unreachable member is reported, not fatal.
 */
export async function clusterView(addr: string, timeoutMs: number): Promise<ClusterView> {
  let source = await requestStatus(addr, timeoutMs);
  const known = new Map<string, StatusJson>([[source.http_addr, source]]);
  if (!source.is_leader && source.leader_id !== 0 && source.leader_http_addr !== "") {
    try {
      source = await requestStatus(source.leader_http_addr, timeoutMs);
      known.set(source.http_addr, source);
    } catch {
      // The leader is unreachable from here: show the member list of the node we asked.
    }
  }
  const members = await Promise.all(
    source.members.map(async (member): Promise<MemberView> => {
      const cached = known.get(member.http_addr);
      if (cached !== undefined) return { member, status: cached, error: null };
      try {
        return { member, status: await requestStatus(member.http_addr, timeoutMs), error: null };
      } catch (error) {
        return { member, status: null, error: shortReason(error) };
      }
    }),
  );
  members.sort((a, b) => a.member.id - b.member.id);
  return { source, members };
}

/** shortReason: a table cell, not a paragraph ("connection refused", "no answer in time"). */
function shortReason(error: unknown): string {
  if (!isQklzlError(error)) return error instanceof Error ? error.message : String(error);
  if (error.code === "timeout") return "no answer in time";
  if (error.details.unreachable === true) return /ECONNREFUSED/.test(error.message) ? "connection refused" : "unreachable";
  return `${error.code}: ${error.message}`;
}
