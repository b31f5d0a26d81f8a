import { assert } from "../shared/assert.ts";
import type { CoreState } from "./core_state.ts";
import { Membership, applyConfChange } from "./membership.ts";
import { Progress } from "./progress.ts";
import { bcastAppend, maybeCommit } from "./replication.ts";
import type { Index } from "./types.ts";

/**
 * applyCommittedConf puts the conf entries up to `index` into effect as they commit (etcd: a change takes
 * effect on commit), and has a leader follow the new configuration; true when the configuration changed.
 */
export function applyCommittedConf(r: CoreState, index: Index): boolean {
  let changed = false;
  while (r.uncommittedConf.length > 0 && (r.uncommittedConf[0]?.index ?? Infinity) <= index) {
    const c = r.uncommittedConf.shift();
    assert(c !== undefined && r.log.term(c.index) === c.term, "raft: committed conf entry matches the log");
    r.membership = new Membership(applyConfChange(r.membership.conf, c.change));
    changed = true;
  }
  if (changed && r.role === "leader") leaderFollowsConf(r);
  return changed;
}

/** leaderFollowsConf: progress for every member and none for the departed; a leader that left steps down. */
function leaderFollowsConf(r: CoreState): void {
  assert(r.role === "leader", "raft: only a leader tracks progress");
  const next = r.log.lastIndex() + 1;
  for (const id of r.membership.ids()) {
    if (!r.progress.has(id)) {
      const pr = new Progress(next, r.cfg.maxInflight);
      pr.recentActive = true;
      r.progress.set(id, pr);
    }
  }
  for (const id of [...r.progress.keys()]) {
    if (!r.membership.has(id) && id !== r.id) r.progress.delete(id);
  }
  if (r.leadTransferee !== 0 && !r.membership.isVoter(r.leadTransferee)) r.leadTransferee = 0;
  if (!r.membership.isVoter(r.id)) {
    // A leader that removed (or demoted) itself tells the others about the commit, then steps down.
    bcastAppend(r);
    r.becomeFollower(r.term, 0);
    return;
  }
  // A smaller quorum may commit more.
  maybeCommit(r);
}
