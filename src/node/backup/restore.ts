import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { consola } from "consola";
import { KvStateMachine } from "../../kv/index.ts";
import type { Member, SnapshotMeta } from "../../raft/types.ts";
import { QklzlError } from "../../shared/errors.ts";
import { lockDir, nodeFs, openStorage, type StorageFs } from "../../storage/index.ts";
import { type BackupHeader, backupFail, verifyBackup } from "./format.ts";

export interface RestoreOptions {
  file: string;
  dataDir: string;
  id: number;
  raftAddr: string;
  httpAddr: string;
  /**
   * initialMembers: every voter of the restored cluster (this node among them, with the same addresses), each
   * restored by its own run of restore; absent: a one-voter cluster of this node.
   */
  initialMembers?: { id: number; raftAddr: string; httpAddr: string }[];
  /** files: the file layer the data dir is written through (tests: a power-loss model; default node:fs). */
  files?: StorageFs;
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
 *
 * With initialMembers (like etcdutl's --initial-cluster), each member's run builds its directory the same way,
 * with a configuration of all of them as voters, and the cluster id derived from the backup's sha256 and the
 * member list, so the separate offline runs agree on it; each directory still draws its own incarnation.
 *
 * Power cuts: the directory is built whole in a staging directory next to it (`<data-dir>.restoring`) and only
 * then renamed into place, and the parent directory fsynced: a cut leaves no data dir (run restore again: it
 * clears a leftover staging directory) or a complete one, never a half-written dir a node would start from
 * (without its cluster id, say, or without the backup's data). A data dir that is a mount point cannot be
 * replaced by a rename: it is written in place as before, with a warning.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  if (!Number.isSafeInteger(options.id) || options.id <= 0) throw new QklzlError("bad_request", `--id must be a positive integer, got ${options.id}`);
  const files = options.files ?? nodeFs;
  const dataDir = path.resolve(options.dataDir);
  if (listing(files, dataDir).length > 0) {
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
  const inPlace = files === nodeFs && isMountPoint(dataDir);
  if (inPlace) consola.warn(`restore: ${dataDir} is a mount point, written in place: if the power fails before restore returns, empty it and restore again`);
  const staging = inPlace ? dataDir : `${dataDir}.restoring`;
  if (!inPlace) clearStaging(files, staging);
  const storage = await openStorage({ dir: staging, nodeId: options.id, files });
  let result: RestoreResult;
  try {
    const self = { id: options.id, role: "voter" as const, raftAddr: options.raftAddr, httpAddr: options.httpAddr, incarnation: storage.meta.incarnation };
    const members = options.initialMembers === undefined ? [self] : initialConfiguration(options.initialMembers);
    const meta: SnapshotMeta = { index: backup.header.index, term: Math.max(1, backup.header.term), conf: { members } };
    // Snapshot first, then the log notes it (the order openStorage's recovery expects), then the hard state.
    await storage.snapshots.save(meta, backup.image);
    await storage.log.installSnapshot(meta);
    await storage.log.save([], { term: meta.term, vote: 0, commit: meta.index });
    const clusterId = options.initialMembers === undefined ? crypto.randomUUID() : derivedClusterId(backup.sha256, options.initialMembers);
    await storage.setClusterId(clusterId);
    result = { header: backup.header, clusterId, incarnation: storage.meta.incarnation, size: backup.size };
  } finally {
    await storage.close();
  }
  if (inPlace) return result;
  // Everything inside is durable (each file fsynced, each directory's entries fsynced): publish it whole.
  files.rename(staging, dataDir);
  files.fsyncDir(path.dirname(dataDir));
  return result;
}

/** isMountPoint: dir exists on another file system than its parent (a volume mounted there). */
function isMountPoint(dir: string): boolean {
  try {
    return fs.statSync(dir).dev !== fs.statSync(path.dirname(dir)).dev;
  } catch {
    return false;
  }
}

/** listing: the names in dir, none when it does not exist. */
function listing(files: StorageFs, dir: string): string[] {
  return exists(files, dir) ? files.readdir(dir) : [];
}

function exists(files: StorageFs, dir: string): boolean {
  try {
    files.readdir(dir);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return false;
    throw error;
  }
}

/**
 * clearStaging removes what an interrupted restore left in the staging directory (never published, so no node
 * ever started from it), and makes the removal durable before the new attempt writes there.
 */
function clearStaging(files: StorageFs, staging: string): void {
  if (!exists(files, staging)) return;
  // A restore still running there holds its LOCK (refused with bad_request); a dead one's lock is stale.
  lockDir(staging).release();
  consola.info(`restore: removing ${staging}, left by an interrupted restore`);
  removeTree(files, staging);
  files.fsyncDir(path.dirname(staging));
}

function removeTree(files: StorageFs, dir: string): void {
  for (const name of files.readdir(dir)) {
    const child = path.join(dir, name);
    let isDir = true;
    try {
      files.readdir(child);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "ENOTDIR") throw error;
      isDir = false;
    }
    if (isDir) removeTree(files, child);
    else files.rm(child);
  }
  files.rmdir(dir);
}

/**
 * initialConfiguration: every listed member a voter, with no incarnation recorded, this node's included, so
 * that every member's run writes the same configuration. Each member records its own at its first start: an
 * unset incarnation is filled in by the member's update_addr (membership.ts updateOwnAddress; /join's
 * joinIncarnationRefusal accepts it from a node with a non-empty log), committed through the log so every
 * member learns it. Incarnations derived from the cluster id and member id would let the runs agree too, but
 * a wiped member restored again from the same backup and list would then come back as the same incarnation and
 * be counted as the member whose votes and acknowledged entries it lost: the very thing incarnations exist to
 * refuse (incarnation.ts). Until its own is recorded, the handshake accepts any incarnation for a member, as
 * it does for configurations written before incarnations existed.
 */
function initialConfiguration(list: { id: number; raftAddr: string; httpAddr: string }[]): Member[] {
  return [...list].sort((a, b) => a.id - b.id).map((m) => ({ id: m.id, role: "voter" as const, raftAddr: m.raftAddr, httpAddr: m.httpAddr }));
}

/** derivedClusterId: the same for every member's run: sha256 of the backup's sha256 and the sorted member list, UUID-shaped. */
export function derivedClusterId(backupSha256: string, list: { id: number; raftAddr: string; httpAddr: string }[]): string {
  const canonical = [...list].sort((a, b) => a.id - b.id).map((m) => `${m.id}=${m.raftAddr}/${m.httpAddr}`).join(",");
  const hex = createHash("sha256").update(`qklzl-restore\n${backupSha256}\n${canonical}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
