import type { ConsolaInstance } from "consola";
import type { KvStateMachine } from "../kv/index.ts";
import { applyConfChange } from "../raft/index.ts";
import type { ConfState, Member, SnapshotMeta } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import type { Storage } from "../storage/types.ts";

/** replay_batch_bytes: the log is read and applied in batches of about this much payload. */
const replay_batch_bytes = 16 * 1024 * 1024;

export interface ForceNewClusterOptions {
  id: number;
  raftAddr: string;
  httpAddr: string;
}

/**
 * forceNewCluster turns one surviving member's data dir into a one-voter cluster (`--force-new-cluster`, for
 * when the majority is gone for good), before the runtime starts:
 * 1. every entry of its log is applied on top of its snapshot. All of it, not only up to the stored commit
 *    index: that index is written lazily (a commit-only change costs no fsync), so entries the cluster
 *    acknowledged can sit above it. The price: an entry that never committed (a deposed leader's tail) is kept
 *    too, as it would be had this member won an election with that log.
 * 2. a snapshot at the last entry is published whose configuration is this node alone (a voter, at the
 *    addresses it starts with), the log is cut behind it and the hard state commits it: the new configuration
 *    is on disk before the node serves anything, and every later restart reads it from there.
 * The cluster id stays (this is the same data, the same cluster, shrunk); other members are gone from the
 * configuration: they must be wiped and -join again. kv must hold the snapshot the log starts after.
 * Returns false (and changes nothing) when the directory already is a one-voter cluster of this node with an
 * empty log, so a restart that keeps the flag is harmless.
 */
export async function forceNewCluster(storage: Storage, kv: KvStateMachine, options: ForceNewClusterOptions, logger: ConsolaInstance): Promise<boolean> {
  const log = storage.log;
  const snap = log.snapshotMeta();
  assert(kv.appliedIndex === snap.index, `force-new-cluster: kv at ${kv.appliedIndex}, snapshot at ${snap.index}`);
  if (log.lastIndex() === 0 && storage.meta.clusterId === null) {
    throw new QklzlError("bad_request", `--force-new-cluster needs a member's existing data; ${storage.dir} holds no cluster state`);
  }
  const last = log.lastIndex();
  let conf: ConfState = snap.conf;
  let applied = 0;
  for (let lo = snap.index + 1; lo <= last; ) {
    const batch = log.entries(lo, last + 1, replay_batch_bytes);
    assert(batch.length > 0 && batch[0]!.index === lo, "force-new-cluster: the log is contiguous");
    for (const e of batch) {
      if (e.kind === "normal") kv.applyEntry(e.index, e.data);
      else kv.skip(e.index);
      if (e.kind === "conf") conf = applyConfChange(conf, e.change);
      applied++;
    }
    lo += batch.length;
  }
  assert(kv.appliedIndex === last, `force-new-cluster: applied to ${kv.appliedIndex}, the log ends at ${last}`);
  const previous = conf.members;
  const own = previous.find((m) => m.id === options.id);
  const self: Member = {
    id: options.id,
    role: "voter",
    raftAddr: options.raftAddr,
    httpAddr: options.httpAddr,
    ...(own?.incarnation === undefined ? { incarnation: storage.meta.incarnation } : { incarnation: own.incarnation }),
  };
  const alone = previous.length === 1 && own !== undefined && own.role === "voter";
  if (alone && last === snap.index) {
    logger.info(`--force-new-cluster: already a one-voter cluster of node ${options.id} with nothing to replay; nothing changed`);
    return false;
  }
  const term = log.term(last);
  assert(term !== undefined && term > 0, `force-new-cluster: term of entry ${last} is known`);
  const meta: SnapshotMeta = { index: last, term, conf: { members: [self] } };
  const image = kv.beginSnapshot();
  try {
    const store = storage.snapshots;
    if (store.saveFrom !== undefined) {
      await store.saveFrom(meta, (out) => image.writeTo((chunk) => out.write(chunk)));
    } else {
      const chunks: Uint8Array[] = [];
      await image.writeTo(async (chunk) => void chunks.push(new Uint8Array(chunk)));
      await store.save(meta, Buffer.concat(chunks));
    }
  } finally {
    image.close();
  }
  await log.installSnapshot(meta);
  const hs = log.hardState();
  await log.save([], { term: hs.term, vote: hs.vote, commit: last });
  const dropped = previous.filter((m) => m.id !== options.id).map((m) => `node ${m.id} (${m.role}, raft ${m.raftAddr})`);
  logger.warn(
    `--force-new-cluster: node ${options.id} is now the only voter of cluster ${storage.meta.clusterId}: ` +
      `replayed ${applied} log entries onto snapshot ${snap.index} and kept all of them (up to index ${last}, term ${term}; the stored commit index was ${hs.commit}), ` +
      `wrote snapshot ${last} with a configuration of this node alone (raft ${options.raftAddr}, http ${options.httpAddr}), ` +
      `and removed ${dropped.length === 0 ? "no other member" : dropped.join(", ")}. ` +
      `Removed members must not be restarted with their old data: wipe them and -join this node.`,
  );
  return true;
}
