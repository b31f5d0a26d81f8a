import type { Entry, HardState, Index, LogReader, SnapshotMeta } from "../raft/types.ts";

/**
 * LogStore is the durable Raft log (segmented, CRC'd, fsync'd). It is also the core's LogReader: what
 * save() was given is visible to readers at once, and durable once the returned promise resolves.
 */
export interface LogStore extends LogReader {
  /** tornBytesAtOpen: bytes of a torn tail (a crash mid-write) cut off at open; absent or 0 when none. */
  readonly tornBytesAtOpen?: number;
  /** hardState: as loaded at open, then as last passed to save(). */
  hardState(): HardState;
  /**
   * save writes entries (replacing any stored suffix from entries[0].index on) and the hard state, and
   * resolves once both are on disk (fsync). Group commit: calls made while a sync is in flight are written
   * and synced together by the next sync. Promises resolve in call order.
   */
  save(entries: Entry[], hardState: HardState | null): Promise<void>;
  /** compact drops entries ≤ index (whole segments only; the rest stays readable). index ≤ snapshot index. */
  compact(index: Index): Promise<void>;
  /**
   * release (optional) drops entries ≤ index from memory without touching files (index ≤ snapshot index):
   * firstIndex() moves past index; files are still deleted only by compact, whole segments at a time.
   */
  release?(index: Index): void;
  /**
   * installSnapshot makes the log start after meta.index: entries ≤ meta.index are dropped, and if the log
   * does not hold an entry (meta.index, meta.term) everything is dropped. Durable on resolve.
   */
  installSnapshot(meta: SnapshotMeta): Promise<void>;
  /**
   * setInlineSync (optional): true runs the next fsyncs on the calling thread instead of the thread pool. A
   * follower has nothing to do between writing an append and acking it, so the pool's hop only adds latency.
   */
  setInlineSync?(inline: boolean): void;
  close(): Promise<void>;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

/** SnapshotWriter takes a snapshot image piece by piece (the caller may reuse a piece once write resolves). */
export interface SnapshotWriter {
  write(chunk: Uint8Array): Promise<void>;
}

/** SnapshotDataReader reads one stored snapshot's image in order, checking its CRC at the end. */
export interface SnapshotDataReader {
  meta: SnapshotMeta;
  file: string;
  dataLen: number;
  read(buf: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** SnapshotStore keeps the last few snapshots, each published atomically (tmp + fsync + rename + dir fsync). */
export interface SnapshotStore {
  /** save publishes a snapshot durably; older ones beyond the retention count are reaped afterwards. */
  save(meta: SnapshotMeta, data: Uint8Array): Promise<void>;
  /**
   * saveFrom (optional) is save with the image streamed by `produce` instead of held whole in memory;
   * if produce throws, nothing is published.
   */
  saveFrom?(meta: SnapshotMeta, produce: (out: SnapshotWriter) => Promise<void>): Promise<void>;
  /** latestMeta: meta of the newest valid snapshot, null when none. Cheap (no data read). */
  latestMeta(): SnapshotMeta | null;
  /** openLatestData (optional): the newest snapshot's image, read in pieces (FileSnapshotStore.openLatestData). */
  openLatestData?(): Promise<SnapshotDataReader | null>;
  /** loadLatest reads and CRC-checks the newest snapshot; a corrupt one is skipped with a warning. */
  loadLatest(): Promise<Snapshot | null>;
}

/** DirMeta pins a data directory to one node of one cluster. */
export interface DirMeta {
  nodeId: number;
  /** clusterId is null until the node bootstraps or joins a cluster. */
  clusterId: string | null;
  /**
   * incarnation: random id of this directory's life (meta.json), drawn when it is created. A wiped and
   * recreated directory has another one, so the cluster can tell the new node from the member it replaces.
   */
  incarnation: string;
}

export interface Storage {
  dir: string;
  meta: DirMeta;
  log: LogStore;
  snapshots: SnapshotStore;
  /** setClusterId records the cluster once known (bootstrap or join), durably. */
  setClusterId(clusterId: string): Promise<void>;
  /** fresh is true when the directory held no state before this open. */
  fresh: boolean;
  close(): Promise<void>;
}

export interface StorageOptions {
  dir: string;
  nodeId: number;
  /** segmentBytes: roll to a new segment past this size (default limits.segment_bytes_default). */
  segmentBytes?: number;
  /** snapshotsRetained: how many snapshots to keep (default 2). */
  snapshotsRetained?: number;
}
