import * as fs from "node:fs";
import { KvStateMachine } from "../../kv/index.ts";
import type { SnapshotMeta } from "../../raft/types.ts";
import { QklzlError } from "../../shared/errors.ts";
import { openStorage } from "../../storage/index.ts";
import { type BackupHeader, backupFail, verifyBackup } from "./format.ts";

export interface RestoreOptions {
  file: string;
  dataDir: string;
  id: number;
  raftAddr: string;
  httpAddr: string;
}

export interface RestoreResult {
  header: BackupHeader;
  clusterId: string;
  incarnation: string;
  size: number;
}

/**
 * restoreBackup builds the data dir of a NEW one-voter cluster from a backup file, offline (like etcdutl
 * snapshot restore): new cluster id and incarnation (from a fresh meta.json), the backup's image published as
 * the directory's snapshot at the backup's index and term, whose configuration is this node alone, and a hard
 * state whose commit covers it. Started without -bootstrap, the node elects itself and serves the restored
 * state; other nodes -join it. The file is checked whole first (sha256, header, and the image parsed with
 * its own hash) and the directory must be absent or empty, so a bad file or a wrong path changes nothing.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  if (!Number.isSafeInteger(options.id) || options.id <= 0) throw new QklzlError("bad_request", `--id must be a positive integer, got ${options.id}`);
  if (fs.existsSync(options.dataDir) && fs.readdirSync(options.dataDir).length > 0) {
    throw new QklzlError("data_dir_not_empty", `data directory ${options.dataDir} is not empty: restore builds a new cluster's directory; give an empty or new --data-dir`);
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await Bun.file(options.file).arrayBuffer());
  } catch (error) {
    throw new QklzlError("bad_request", `cannot read backup ${options.file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const backup = verifyBackup(bytes);
  const kv = new KvStateMachine();
  await kv.restore(backup.image); // parses every slice and checks the image's own hash
  const stats = kv.stats();
  if (stats.index !== backup.header.index) backupFail(`image is at index ${stats.index}, the header says ${backup.header.index}`);
  if (stats.hash !== backup.header.kv_hash) backupFail(`image hashes to ${stats.hash}, the header says ${backup.header.kv_hash}`);
  if (stats.revision !== backup.header.revision || stats.keys !== backup.header.keys) backupFail("image revision or key count differs from the header");
  const storage = await openStorage({ dir: options.dataDir, nodeId: options.id });
  try {
    const self = { id: options.id, role: "voter" as const, raftAddr: options.raftAddr, httpAddr: options.httpAddr, incarnation: storage.meta.incarnation };
    const meta: SnapshotMeta = { index: backup.header.index, term: Math.max(1, backup.header.term), conf: { members: [self] } };
    // Snapshot first, then the log notes it (the order openStorage's recovery expects), then the hard state.
    await storage.snapshots.save(meta, backup.image);
    await storage.log.installSnapshot(meta);
    await storage.log.save([], { term: meta.term, vote: 0, commit: meta.index });
    const clusterId = crypto.randomUUID();
    await storage.setClusterId(clusterId);
    return { header: backup.header, clusterId, incarnation: storage.meta.incarnation, size: backup.size };
  } finally {
    await storage.close();
  }
}
