// Incarnations: every data directory draws a random id when it is created (meta.json). The configuration
// records, for each member, the incarnation that joined under its id. A node whose directory was wiped comes
// back under the same id with another incarnation and an empty log: it has forgotten its votes and the entries
// it acknowledged, so it must never be counted as the member it replaces. Two gates enforce that:
// - the peer handshake refuses a connection whose incarnation is not the member's (no vote, no ack arrives);
// - /join refuses it with 409 incarnation_mismatch: the operator removes the old member first
//   (`qklzl leave N`), then the node joins as a new learner, catches up and is promoted.
import type { Member, NodeId } from "../raft/types.ts";
import { QklzlError } from "../shared/errors.ts";
import type { JoinRequest } from "./api.ts";

/** describeIncarnation keeps log lines short: the first characters identify an incarnation well enough. */
export function describeIncarnation(incarnation: string | undefined): string {
  if (incarnation === undefined || incarnation === "") return "(none)";
  return incarnation.length > 12 ? `${incarnation.slice(0, 12)}…` : incarnation;
}

/**
 * handshakeIncarnationProblem: why a peer connection from member `id` claiming `incarnation` must be refused,
 * or null. A member recorded without an incarnation (configurations written before they existed) accepts any.
 */
export function handshakeIncarnationProblem(member: Member | undefined, id: NodeId, incarnation: string): string | null {
  if (member === undefined || member.incarnation === undefined || member.incarnation === "") return null;
  if (member.incarnation === incarnation) return null;
  // Short: the transport cuts refusal reasons at 200 characters, and the remedy must survive that.
  return (
    `node ${id} is incarnation ${describeIncarnation(incarnation)}, member ${id} is ${describeIncarnation(member.incarnation)} ` +
    `(data dir wiped?): not counted; run \`qklzl leave ${id}\`, then -join`
  );
}

/**
 * joinIncarnationRefusal: the 409 a /join gets when `request` comes from another incarnation than the member
 * `existing` the configuration holds under that id (or null when the request is that member itself).
 * A member recorded without an incarnation is refused only to a node with an empty log: that one cannot be
 * the member that voted and acknowledged entries.
 */
export function joinIncarnationRefusal(existing: Member, request: JoinRequest): QklzlError | null {
  const recorded = existing.incarnation ?? "";
  const claimed = request.incarnation ?? "";
  // A request that names no incarnation and no empty log (an older client, or by hand) records none: it
  // cannot make a node count as this member either, the handshake decides that.
  if (claimed === "" && request.fresh !== true) return null;
  if (recorded === "" ? request.fresh !== true : claimed === recorded) return null;
  const why =
    recorded === ""
      ? `node ${request.id} is already a ${existing.role} of the cluster, and this node has an empty data directory`
      : `node ${request.id} is already a ${existing.role} of the cluster as incarnation ${describeIncarnation(recorded)}, ` +
        `and this node is incarnation ${describeIncarnation(claimed)}`;
  return new QklzlError(
    "incarnation_mismatch",
    `${why} (its data directory was wiped or replaced): it lost what member ${request.id} voted and stored, so it cannot ` +
      `take that member's place. Run \`qklzl leave ${request.id}\` first, then start this node again with -join: ` +
      `it joins as a new learner and becomes a voter once caught up`,
    { id: request.id, member_incarnation: recorded, incarnation: claimed },
  );
}

/**
 * OwnRemoval is what a node makes of a committed entry that removes its id:
 * - "removed": the removal names this incarnation and the latest configuration this node knows does not hold
 *   it again: the cluster removed this node; it stops. No leader can disagree later: an incarnation is never
 *   added again (a node joins only from a directory without Raft state, and reopening such a directory draws
 *   a new incarnation);
 * - "history": an earlier incarnation was removed (a wiped node replaying the log from the start), or a later
 *   configuration holds this node again: not an event for this node;
 * - "confirm": the removal names no incarnation (written before they existed): stop only once the leader
 *   confirms that its configuration does not hold this node.
 */
export type OwnRemoval = "removed" | "history" | "confirm";

export function judgeOwnRemoval(removedIncarnation: string | undefined, ownIncarnation: string, latestSelf: Member | undefined): OwnRemoval {
  if (removedIncarnation !== undefined && removedIncarnation !== "" && removedIncarnation !== ownIncarnation) return "history";
  if (latestSelf !== undefined && (latestSelf.incarnation === undefined || latestSelf.incarnation === ownIncarnation)) return "history";
  return removedIncarnation === ownIncarnation ? "removed" : "confirm";
}
