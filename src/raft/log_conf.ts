import { assert } from "../shared/assert.ts";
import type { RaftLog } from "./log.ts";
import { applyConfChange } from "./membership.ts";
import type { ConfChange, ConfState, Index, Term } from "./types.ts";

/** log_scan_bytes_max: the batch size confUpTo reads the log in. */
const log_scan_bytes_max = 64 * 1024 * 1024;

/** UncommittedConf is a conf entry in the log above the commit index (it takes effect again when it commits). */
export interface UncommittedConf {
  index: Index;
  term: Term;
  change: ConfChange;
}

/**
 * confUpTo folds the snapshot's configuration and every conf entry of the log up to `last`, committed or not
 * (thesis §4.1: a server uses the latest configuration in its log); lists those beyond the commit index.
 */
export function confUpTo(log: RaftLog, last: Index): { conf: ConfState; uncommitted: UncommittedConf[] } {
  let conf = log.snapshotMeta().conf;
  const uncommitted: UncommittedConf[] = [];
  for (let lo = log.firstIndex(); lo <= last; ) {
    const batch = log.slice(lo, last + 1, log_scan_bytes_max);
    assert(batch.length > 0, "raft: log slice makes progress");
    for (const e of batch) {
      if (e.kind !== "conf") continue;
      conf = applyConfChange(conf, e.change);
      if (e.index > log.committed) uncommitted.push({ index: e.index, term: e.term, change: e.change });
    }
    lo += batch.length;
  }
  return { conf, uncommitted };
}
