// openStorage opens (or creates) a node's data directory:
//   meta.json          node id + cluster id (dir_meta.ts)
//   wal/NNNN….seg      the segmented Raft log (wal.ts)
//   snap/….snap        snapshots (snapshot_store.ts)
//
// Contract for the node (driver of Ready):
// - log.save / installSnapshot / compact / snapshots.save may be called without awaiting the previous call:
//   they take effect in memory (LogReader) in call order at once, are written in call order, and their promises
//   resolve in call order once durable. Send messagesAfterPersist only after save() resolved.
// - Entries and hard states handed to save() are kept by reference in memory: do not mutate them afterwards.
//   Entries returned by entries() are shared too: read-only.
// - Local snapshot: `await snapshots.save(meta, data)` (publishes the file, then the log notes meta: snapshotMeta()
//   follows, entries stay), then `await log.compact(meta.index - trailing)` (deletes whole segments only).
// - Received snapshot (Ready.snapshot): `await snapshots.save(meta, data)` FIRST, then `log.installSnapshot(meta)`.
//   The other order can leave a log that names a snapshot the store does not have; open refuses that as corruption.
// - Any failed write or fsync makes the log unusable (every later call rejects): exit and restart the node.
// - openStorage throws QklzlError "storage_corrupt" (message names file, offset and the remedy) or "bad_request"
//   (directory belongs to another node id, or is in use by another live process: LOCK file, released by close()).
import * as path from "node:path";
import { consola } from "consola";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type { DirMeta, Storage, StorageOptions } from "./types.ts";
import { loadOrCreateDirMeta, newIncarnation, writeDirMeta } from "./dir_meta.ts";
import { FileSnapshotStore } from "./snapshot_store.ts";
import { Wal, type SyncMode } from "./wal.ts";
import { corruptError } from "./recover.ts";
import { emptySnapshotMeta } from "./mem_log.ts";
import { lockDir, type DirLock } from "./dir_lock.ts";
import { nodeFs, type StorageFs } from "./file_system.ts";

export type { DirMeta, LogStore, Snapshot, SnapshotDataReader, SnapshotStore, Storage, StorageOptions } from "./types.ts";
export { Wal, type SyncMode } from "./wal.ts";
export { FileSnapshotStore } from "./snapshot_store.ts";
export { nodeFs, type StorageFileHandle, type StorageFs } from "./file_system.ts";
export { isFsyncFailure, isNoSpaceCause, isNoSpaceError } from "./no_space.ts";
export { lockDir } from "./dir_lock.ts";

export interface OpenStorageOptions extends StorageOptions {
  /** syncMode: how fdatasync runs (default "async": on the thread pool, the event loop stays free). */
  syncMode?: SyncMode;
  /** syncFault: tests only, see WalOptions.syncFault. */
  syncFault?: () => Error | null;
  /** files: the file layer for the directory, meta.json, wal/ and snap/ (a power-loss model in tests, or restore's; default node:fs). */
  files?: StorageFs;
}

/** FileStorage is the Storage returned by openStorage; `log` is a Wal (a LogStore with a few extras). */
export interface FileStorage extends Storage {
  log: Wal;
  snapshots: FileSnapshotStore;
}

/**
 * openStorage pins the directory to options.nodeId (refusing another node's directory), recovers the log
 * (cutting a torn tail, refusing corruption with QklzlError "storage_corrupt"), verifies the snapshots, and
 * makes log.snapshotMeta() agree with the newest usable snapshot.
 */
export async function openStorage(options: OpenStorageOptions): Promise<FileStorage> {
  const dir = options.dir;
  const fsLayer = options.files ?? nodeFs;
  const created = fsLayer.mkdirp(dir);
  if (created !== undefined) fsyncNewDirs(fsLayer, created, dir);
  const lock = lockDir(dir);
  let log: Wal | null = null;
  try {
    const loaded = loadOrCreateDirMeta(dir, options.nodeId, fsLayer);
    const files = options.files === undefined ? {} : { files: options.files };
    const snapshots = FileSnapshotStore.open({ snapDir: path.join(dir, "snap"), retained: options.snapshotsRetained ?? 2, ...files });
    log = Wal.open({
      walDir: path.join(dir, "wal"),
      dataDir: dir,
      segmentBytes: options.segmentBytes ?? limits.segment_bytes_default,
      ...(options.syncMode === undefined ? {} : { syncMode: options.syncMode }),
      ...(options.syncFault === undefined ? {} : { syncFault: options.syncFault }),
      ...files,
    });
    await reconcileSnapshotMeta(dir, log, snapshots);
    const meta = holdsRaftState(log, snapshots) || loaded.fresh ? loaded.meta : renewIncarnation(dir, loaded.meta, fsLayer);
    return assemble(dir, meta, log, snapshots, lock, fsLayer);
  } catch (error) {
    await log?.close().catch(() => {});
    lock.release();
    throw error;
  }
}

/**
 * fsyncNewDirs fsyncs the parent of every directory mkdir created, from `first` (the outermost) down to `dir`: a new
 * directory's own entry is durable only then, and a data dir lost to a power cut would restart the node empty
 * (a bootstrap node would found a new cluster).
 */
function fsyncNewDirs(files: StorageFs, first: string, dir: string): void {
  const outermost = path.resolve(first);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    files.fsyncDir(path.dirname(d));
    if (d === outermost || d === path.dirname(d)) break;
  }
}

function assemble(dir: string, meta: DirMeta, log: Wal, snapshots: FileSnapshotStore, lock: DirLock, files: StorageFs): FileStorage {
  snapshots.published = (snapshotMeta) => log.noteSnapshot(snapshotMeta);
  // fresh: no Raft state survived (a crash right after meta.json was created counts as fresh too).
  const fresh = !holdsRaftState(log, snapshots);
  const storage: FileStorage = {
    dir,
    meta,
    log,
    snapshots,
    fresh,
    async setClusterId(clusterId: string): Promise<void> {
      if (storage.meta.clusterId === clusterId) return;
      if (storage.meta.clusterId !== null) {
        throw new QklzlError("bad_request", `data directory ${dir} belongs to cluster ${storage.meta.clusterId}, not ${clusterId}`);
      }
      const next: DirMeta = { ...storage.meta, clusterId };
      writeDirMeta(dir, next, files);
      storage.meta = next;
    },
    async close(): Promise<void> {
      try {
        await log.close();
      } finally {
        lock.release();
      }
    },
  };
  consola.debug(`[storage] opened ${dir}: log [${log.firstIndex()}, ${log.lastIndex()}], snapshot ${log.snapshotMeta().index}`);
  return storage;
}

function holdsRaftState(log: Wal, snapshots: FileSnapshotStore): boolean {
  return log.lastIndex() > 0 || log.hardState().term > 0 || snapshots.latestMeta() !== null;
}

/**
 * renewIncarnation: a directory whose meta.json survived but whose log and snapshots did not (deleted by hand,
 * or never written) remembers nothing it may have voted or acknowledged: it is a new life, not the member
 * meta.json names, so it gets a new incarnation.
 */
function renewIncarnation(dir: string, meta: DirMeta, files: StorageFs): DirMeta {
  const next: DirMeta = { ...meta, incarnation: newIncarnation() };
  writeDirMeta(dir, next, files);
  consola.info(`[storage] ${dir} holds no Raft state: new incarnation ${next.incarnation} (was ${meta.incarnation})`);
  return next;
}

/**
 * reconcileSnapshotMeta: a crash between publishing a snapshot and logging its meta leaves the store ahead of
 * the log (note it now); a newest snapshot that failed verification leaves the log ahead (go back to the older
 * snapshot if the log still covers the gap, else the data needed is gone: corruption).
 */
async function reconcileSnapshotMeta(dir: string, log: Wal, snapshots: FileSnapshotStore): Promise<void> {
  const stored = snapshots.latestMeta();
  const logged = log.snapshotMeta();
  const storedIndex = stored?.index ?? 0;
  if (stored !== null && stored.index > logged.index) {
    await log.noteSnapshot(stored);
    return;
  }
  if (storedIndex < logged.index) {
    if (log.firstIndex() > storedIndex + 1) {
      throw corruptError(dir, path.join(dir, "snap"), 0, `the log starts after snapshot ${logged.index} but no usable snapshot reaches it`);
    }
    consola.warn(`[storage] newest usable snapshot is ${storedIndex}, the log named ${logged.index}: going back to ${storedIndex}`);
    await log.resetSnapshotMeta(stored ?? emptySnapshotMeta);
  }
}
