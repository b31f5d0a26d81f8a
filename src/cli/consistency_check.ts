import type { StatusJson } from "../node/api.ts";

/** HashSample: what one member reported (null when it could not be read). */
export interface HashSample {
  id: number;
  status: StatusJson | null;
}

export type CheckVerdict =
  | { kind: "agree"; index: number; hash: string; keys: number; ids: number[] }
  | { kind: "diverged"; index: number; hashes: { id: number; hash: string; keys: number }[] }
  | { kind: "waiting"; reason: string };

/**
 * judgeHashes decides one round of `qklzl check`: members can only be compared at one common applied index,
 * so different indexes mean "waiting" (poll again), equal indexes with different hashes mean divergence.
 * Pure, so the decision is unit-tested apart from the polling.
 */
export function judgeHashes(samples: readonly HashSample[]): CheckVerdict {
  if (samples.length === 0) return { kind: "waiting", reason: "no members listed" };
  const down = samples.filter((sample) => sample.status === null).map((sample) => sample.id);
  if (down.length > 0) return { kind: "waiting", reason: `unreachable: node ${down.join(", node ")}` };
  const statuses = samples.map((sample) => sample.status!);
  const indexes = new Set(statuses.map((status) => status.kv_hash_index));
  if (indexes.size > 1) {
    const listing = statuses.map((status) => `n${status.id}=${status.kv_hash_index}`).join(" ");
    return { kind: "waiting", reason: `applied indexes differ: ${listing}` };
  }
  const index = statuses[0]!.kv_hash_index;
  const hashes = new Set(statuses.map((status) => status.kv_hash));
  if (hashes.size === 1) {
    return { kind: "agree", index, hash: statuses[0]!.kv_hash, keys: statuses[0]!.kv_keys, ids: statuses.map((status) => status.id) };
  }
  return { kind: "diverged", index, hashes: statuses.map((status) => ({ id: status.id, hash: status.kv_hash, keys: status.kv_keys })) };
}
