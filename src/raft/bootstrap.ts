import type { BootstrapState } from "./api.ts";
import type { Member } from "./types.ts";

/**
 * bootstrapState is the first log of a brand-new single-node cluster: `self` joins as a learner
 * then is promoted, both committed, so every node's config comes from the log the same way.
 */
export function bootstrapState(self: Member): BootstrapState {
  const change = { id: self.id, raftAddr: self.raftAddr, httpAddr: self.httpAddr, ...(self.incarnation ? { incarnation: self.incarnation } : {}) };
  return {
    entries: [
      { kind: "conf", index: 1, term: 1, change: { type: "add_learner", ...change } },
      { kind: "conf", index: 2, term: 1, change: { type: "promote", ...change } },
    ],
    hardState: { term: 1, vote: 0, commit: 2 },
  };
}
