import type { Index, NodeId } from "./types.ts";

/**
 * committedIndex is the largest index acknowledged by a majority of `voters` (thesis §3.6):
 * sort the acked indexes descending and take the one at position floor(n/2).
 * An empty voter set commits nothing (0): qklzl never runs without a voter.
 */
export function committedIndex(voters: readonly NodeId[], acked: (id: NodeId) => Index): Index {
  if (voters.length === 0) return 0;
  const indexes = voters.map(acked).sort((a, b) => b - a);
  return indexes[Math.floor(voters.length / 2)] ?? 0;
}

export type VoteResult = "won" | "lost" | "pending";

/** voteResult counts granted and rejected votes among `voters`; votes from non-voters do not count. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const majority = Math.floor(voters.length / 2) + 1;
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  if (granted >= majority) return "won";
  if (voters.length - rejected < majority) return "lost";
  return "pending";
}

/** hasQuorum is true when the ids in `acks` include a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], acks: ReadonlySet<NodeId>): boolean {
  let count = 0;
  for (const id of voters) if (acks.has(id)) count++;
  return count >= Math.floor(voters.length / 2) + 1;
}
