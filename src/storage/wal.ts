// Wal is the segmented, CRC'd, fsync'd Raft log (LogStore). Every mutation is applied to the in-memory
// image and written to the active segment at once (one write per call); durability comes from a shared
// fdatasync: calls made while a sync runs are written and covered by the next one (group commit, no timer).
// The active segment is preallocated ahead of its records, up to segmentBytes: small records land on zeros this
// Wal wrote (zero_fill_bytes at a time), so their fdatasync writes data blocks only, with no file-size change and
// no block allocation to commit in the ext4 journal; larger records extend the file sparsely (preallocate_bytes
// ahead). A sealed segment is cut to its records before the next one is created; recovery reads the zeros after
// the last record as the end.
import * as path from "node:path";
import { consola } from "consola";
import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { stamp, TracePoint, tracing } from "../shared/trace.ts";
import type { Entry, HardState, Index, SnapshotMeta, Term } from "../raft/types.ts";
import type { LogStore } from "./types.ts";
import { MemLog } from "./mem_log.ts";
import { encodeEntries, encodeSnapshotRecord, type SnapshotRecord } from "./record.ts";
import { segment_header_bytes, encodeSegmentHeader, segmentPath } from "./segment.ts";
import { nodeFs, type StorageFs } from "./file_system.ts";
import { isNoSpaceCause, isNoSpaceError, noSpaceError } from "./no_space.ts";
import { noteEntry, recoverWal, type SegmentInfo } from "./recover.ts";

/** record_buffer_bytes_min, _max: the reused record buffer starts at the first, grows by doubling up to the second. */
const record_buffer_bytes_min = 64 * 1024;
const record_buffer_bytes_max = 8 * 1024 * 1024;
/** preallocate_bytes: how far ahead of a large record the active segment's file is extended (sparse). */
const preallocate_bytes = 256 * 1024;
/**
 * zero_fill_bytes: how far ahead of a small record the active segment is written with zeros. A hole in a sparse
 * file is allocated by the write that lands in it, and the fdatasync after it then commits that allocation in the
 * ext4 journal: with small saves, nearly every sync. Measured here (scratch script, 3 processes each writing
 * 4 KiB and fdatasyncing in a loop, one disk): into sparse preallocation p50 0.47 ms, max 123 ms; over zeros
 * written 1 MiB ahead p50 0.27 ms, max 64-72 ms (the sync after a fill writes the MiB: p99 0.84 vs 0.85 ms).
 */
const zero_fill_bytes = 1024 * 1024;
/**
 * zero_fill_record_max: records from this size extend the sparse preallocation instead: their syncs are mostly
 * data already, and zeros ahead of them would make the disk write every byte twice.
 */
const zero_fill_record_max = 64 * 1024;
let zeroBlock: Uint8Array | null = null;

/** SyncMode: "async" runs fdatasync on the thread pool (event loop stays free); "sync" blocks it for the sync. */
export type SyncMode = "sync" | "async";

export interface WalOptions {
  walDir: string;
  /** dataDir is named in corruption messages (the operator's remedy is to wipe it). */
  dataDir: string;
  segmentBytes: number;
  syncMode?: SyncMode;
  /** syncFault (tests only) is asked before each fdatasync; an error it returns is taken as that sync's failure. */
  syncFault?: () => Error | null;
  /** files: the file layer (default node:fs; tests inject a power-loss model). */
  files?: StorageFs;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class Wal implements LogStore {
  /** tornBytesAtOpen: bytes of a torn tail cut off the last segment when this log was opened (0: it ended cleanly). */
  tornBytesAtOpen = 0;
  private readonly mem: MemLog;
  private readonly segments: SegmentInfo[];
  private fd: number;
  /** pending: calls whose records are written but not yet covered by a completed sync, in call order. */
  private pending: Waiter[] = [];
  private syncing = false;
  /** inflight: the batch the running sync will resolve; null when no sync runs. */
  private inflight: Waiter[] | null = null;
  /** dirty: bytes were written since the last sync began. */
  private dirty = false;
  private scheduled = false;
  /** retired: fds of sealed segments, closed once no sync that may use them is running. */
  private retired: number[] = [];
  private failure: Error | null = null;
  private closed = false;
  private syncMode: SyncMode;
  private readonly configuredSyncMode: SyncMode;
  private readonly files: StorageFs;
  /**
   * preallocated: the active segment's file size as this Wal set it (≥ its records' end once written). Not synced
   * on its own: a size lost in a crash leaves the file as recovery finds it, and the next record grows it.
   */
  private preallocated = 0;
  /** zeroedEnd: bytes of the active segment below it are written (records or zeros from a fill): no holes. */
  private zeroedEnd = 0;
  /** syncs: fdatasyncs completed (group commit shows as saves > syncs). */
  syncs = 0;
  /**
   * recordBuffer: the space each save's records are encoded into, reused. writeAll has copied them into the
   * page cache when it returns and the image copies entries from their own data, so nothing reads it later.
   * A fresh buffer per save cost a page fault per 4 KiB on first touch: with 16 KiB values that was most of
   * the encoding's cost. Batches above record_buffer_bytes_max get a buffer of their own (not kept).
   */
  private recordBuffer = new Uint8Array(record_buffer_bytes_min);
  private readonly recordSpace = (size: number): Uint8Array => {
    if (size > record_buffer_bytes_max) return new Uint8Array(size);
    if (size > this.recordBuffer.length) this.recordBuffer = new Uint8Array(Math.min(record_buffer_bytes_max, Math.max(size, 2 * this.recordBuffer.length)));
    return this.recordBuffer.subarray(0, size);
  };

  private constructor(
    private readonly options: WalOptions,
    mem: MemLog,
    segments: SegmentInfo[],
  ) {
    this.mem = mem;
    this.segments = segments;
    this.configuredSyncMode = options.syncMode ?? "async";
    this.syncMode = this.configuredSyncMode;
    this.files = options.files ?? nodeFs;
    const active = segments[segments.length - 1];
    assert(active !== undefined, "a wal has an active segment");
    this.fd = this.files.open(active.path, "r+");
    this.preallocated = active.size;
    this.zeroedEnd = active.size;
  }

  /** open recovers the log from walDir (creating the first segment of a fresh log). Throws storage_corrupt. */
  static open(options: WalOptions): Wal {
    assert(options.segmentBytes > segment_header_bytes, "segmentBytes leaves room for records");
    const files = options.files ?? nodeFs;
    // A new directory's own entry is durable only once its parent is fsynced (else a power cut loses wal/ whole).
    if (files.mkdirp(options.walDir) !== undefined) files.fsyncDir(path.dirname(options.walDir));
    const recovered = recoverWal({ files, walDir: options.walDir, dataDir: options.dataDir });
    if (recovered.segments.length === 0) {
      recovered.segments.push(createSegment(files, options.walDir, 1, recovered.mem));
    }
    makeRecoveredDurable(files, options.walDir, recovered.segments);
    const wal = new Wal(options, recovered.mem, recovered.segments);
    wal.tornBytesAtOpen = recovered.tornBytes;
    return wal;
  }

  // LogReader: served from memory, synchronous.
  firstIndex(): Index {
    return this.mem.first;
  }
  lastIndex(): Index {
    return this.mem.lastIndex();
  }
  term(index: Index): Term | undefined {
    return this.mem.term(index);
  }
  entries(lo: Index, hi: Index, bytesMax: number): Entry[] {
    return this.mem.entries(lo, hi, bytesMax);
  }
  snapshotMeta(): SnapshotMeta {
    return this.mem.snap;
  }
  hardState(): HardState {
    return this.mem.hs;
  }

  save(entries: Entry[], hardState: HardState | null): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== null) return Promise.reject(unusable);
    if (entries.length === 0 && hardState === null) return this.barrier();
    // Roll before the image changes: the new segment's checkpoint must describe only what is already durable.
    const rolled = this.rollIfFull();
    if (rolled !== null) return Promise.reject(rolled);
    // The record goes to the file before the image changes: a write the full disk refuses (no_space.ts) then
    // leaves both as they were, and the same save can simply be made again later.
    const unfit = this.mem.appendProblem(entries);
    if (!(unfit === null)) assert(false, `save: ${unfit}`);
    const min = entries.length > 0 ? entries[0]!.index : 0;
    const max = entries.length > 0 ? entries[entries.length - 1]!.index : 0;
    const refused = this.writeRecord(encodeEntries(entries, hardState, this.recordSpace), min, max);
    if (refused !== null) return Promise.reject(refused);
    const problem = this.mem.append(entries, true);
    if (!(problem === null)) assert(false, `save: ${problem}`);
    if (hardState !== null) this.mem.hs = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    return this.afterWrite();
  }

  installSnapshot(meta: SnapshotMeta): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== null) return Promise.reject(unusable);
    return this.writeSnapshotRecord(this.mem.snapshotRecordFor(meta, true));
  }

  /**
   * noteSnapshot records that a newer snapshot was published (SnapshotStore.save calls it): snapshotMeta()
   * follows it; entries stay when the log holds (meta.index, meta.term), else the log restarts after it.
   */
  noteSnapshot(meta: SnapshotMeta): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== null) return Promise.reject(unusable);
    if (meta.index <= this.mem.snap.index) return this.barrier();
    return this.writeSnapshotRecord(this.mem.snapshotRecordFor(meta, false));
  }

  /** resetSnapshotMeta points snapshotMeta() at an older snapshot (open, when the newest snapshot file is unusable). */
  resetSnapshotMeta(meta: SnapshotMeta): Promise<void> {
    assert(meta.index <= this.mem.snap.index, "reset goes back");
    assert(this.mem.first <= meta.index + 1, "the log reaches back to the older snapshot");
    return this.writeSnapshotRecord({ meta, install: false, keep: true });
  }

  /** setInlineSync: "sync" for the next fdatasyncs (a follower's), or back to the configured mode. */
  setInlineSync(inline: boolean): void {
    this.syncMode = inline ? "sync" : this.configuredSyncMode;
  }

  async compact(index: Index): Promise<void> {
    const unusable = this.unusable();
    if (unusable !== null) throw unusable;
    assert(index <= this.mem.snap.index, `compact(${index}) beyond the snapshot index ${this.mem.snap.index}`);
    // Everything written before this call (e.g. the snapshot record) must be durable before files go away.
    await this.barrier();
    let count = 0;
    while (count < this.segments.length - 1) {
      const info = this.segments[count]!;
      if (info.maxEntry > index) break;
      count++;
    }
    if (count === 0) return;
    const removed = this.segments.splice(0, count);
    // Off the event loop: unlinking a 64 MiB segment and the directory fsync can take milliseconds.
    for (const info of removed) await this.files.rmAsync(info.path);
    await this.files.fsyncDirAsync(this.options.walDir);
    let minRemaining = Infinity;
    for (const info of this.segments) if (info.minEntry > 0) minRemaining = Math.min(minRemaining, info.minEntry);
    this.mem.dropBefore(minRemaining === Infinity ? this.mem.lastIndex() + 1 : minRemaining);
    const problem = this.mem.invariantProblem();
    assert(problem === null, `log invariant after compaction: ${problem}`);
    consola.debug(`[storage] compacted ${count} segment(s) up to index ${index}; first index now ${this.mem.first}`);
  }

  /**
   * release drops entries ≤ index from memory only; their segment stays on disk until compact can delete it
   * whole. A 64 MiB segment holds ~450k small entries, ~200 MB as objects: without this, memory follows the
   * segment size instead of the snapshot spacing. After a restart the log may reach further back again.
   */
  release(index: Index): void {
    if (this.unusable() !== null || index < this.mem.first) return;
    assert(index <= this.mem.snap.index, `release(${index}) beyond the snapshot index ${this.mem.snap.index}`);
    this.mem.dropBefore(index + 1);
    const problem = this.mem.invariantProblem();
    assert(problem === null, `log invariant after release: ${problem}`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Refuse new calls first, then wait for what was already written to become durable.
    this.closed = true;
    if (this.failure === null) await this.barrier().catch(() => {});
    for (const fd of this.retired) this.files.close(fd);
    this.retired = [];
    this.files.close(this.fd);
  }

  /** segmentCount is for tests and status: how many segment files the log spans. */
  segmentCount(): number {
    return this.segments.length;
  }

  private unusable(): Error | null {
    if (this.failure !== null) return this.failure;
    if (this.closed) return new QklzlError("shutting_down", "storage is closed");
    return null;
  }

  private writeSnapshotRecord(record: SnapshotRecord): Promise<void> {
    // As in save(): roll first, so that the checkpoint never carries this snapshot ahead of its record.
    const rolled = this.rollIfFull();
    if (rolled !== null) return Promise.reject(rolled);
    const refused = this.writeRecord(encodeSnapshotRecord(record), 0, 0);
    if (refused !== null) return Promise.reject(refused);
    this.mem.applySnapshot(record);
    return this.afterWrite();
  }

  /**
   * writeRecord appends one record to the active segment; returns null, or the error the caller rejects with.
   * ENOSPC from the write cuts the partial record off again (the file is as before) and answers no_space
   * without making the log unusable; any other failure does (fail).
   */
  private writeRecord(buf: Uint8Array, minEntry: number, maxEntry: number): Error | null {
    const current = this.segments[this.segments.length - 1]!;
    try {
      const end = current.size + buf.byteLength;
      if (end > this.zeroedEnd && end < this.options.segmentBytes && buf.byteLength < zero_fill_record_max) {
        this.fillZeros(current.size, end);
      } else if (end > this.preallocated && end < this.options.segmentBytes) {
        this.preallocated = Math.min(this.options.segmentBytes, end + preallocate_bytes);
        this.files.ftruncate(this.fd, this.preallocated);
      }
      this.files.writeAllAt(this.fd, buf, current.size);
    } catch (error) {
      if (!isNoSpaceCause(error)) {
        this.fail(error);
        return this.failure;
      }
      try {
        // The refused write's partial bytes must not stay behind the next record (recovery would read them as
        // a torn tail followed by valid records): cut them off, with the rest of the preallocation.
        this.files.ftruncate(this.fd, current.size);
        this.preallocated = current.size;
        this.zeroedEnd = current.size;
      } catch (cut) {
        this.fail(cut);
        return this.failure;
      }
      consola.warn(`[storage] WAL append of ${buf.byteLength} bytes refused, the disk is full; the log is unchanged`);
      return noSpaceError("WAL append", error);
    }
    this.dirty = true;
    current.size += buf.byteLength;
    if (minEntry > 0) noteEntry(current, minEntry);
    if (maxEntry > 0) noteEntry(current, maxEntry);
    return null;
  }

  /**
   * fillZeros writes zeros from the records' end (or the last fill's) to zero_fill_bytes past it, capped at
   * segmentBytes, so that the record ending at `end` and the next ones land on written blocks. One write: the
   * record is below zero_fill_record_max and ends below segmentBytes (writeRecord), so `to` covers it. The zeros
   * are written before the record, in the same call: nothing else writes this file between them.
   */
  private fillZeros(recordsEnd: number, end: number): void {
    const from = Math.max(this.zeroedEnd, recordsEnd);
    const to = Math.min(this.options.segmentBytes, from + zero_fill_bytes);
    assert(end <= to, `wal: a zero fill to ${to} leaves the record ending at ${end} uncovered`);
    zeroBlock ??= new Uint8Array(zero_fill_bytes);
    this.files.writeAllAt(this.fd, zeroBlock.subarray(0, to - from), from);
    this.zeroedEnd = to;
    this.preallocated = Math.max(this.preallocated, to);
  }

  /** afterWrite checks the image the record now describes, then waits for the shared fsync. */
  private afterWrite(): Promise<void> {
    const problem = this.mem.invariantProblem();
    if (!(problem === null)) assert(false, `log invariant: ${problem}`);
    return this.barrier();
  }

  /** barrier resolves once everything written so far is durable (in call order with other saves). */
  private barrier(): Promise<void> {
    if (!this.dirty && this.pending.length === 0) {
      if (this.inflight === null) return Promise.resolve();
      // Nothing written since the running sync began: it covers everything, and it resolves before `pending`.
      const inflight = this.inflight;
      return new Promise<void>((resolve, reject) => inflight.push({ resolve, reject }));
    }
    const promise = new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
    this.schedule();
    return promise;
  }

  private schedule(): void {
    if (this.syncing || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.syncing || this.pending.length === 0 || this.failure !== null) return;
    const batch = this.pending;
    this.pending = [];
    this.syncing = true;
    this.inflight = batch;
    this.dirty = false;
    const fault = this.options.syncFault?.() ?? null;
    if (tracing) stamp(TracePoint.syncStart, -1, this.syncMode === "sync" ? 1 : 0);
    if (fault !== null) {
      queueMicrotask(() => this.synced(batch, fault));
    } else if (this.syncMode === "sync") {
      let error: unknown = null;
      try {
        this.files.fdatasync(this.fd);
      } catch (caught) {
        error = caught;
      }
      this.synced(batch, error);
    } else {
      this.files.fdatasyncAsync(this.fd, (error) => this.synced(batch, error));
    }
  }

  private synced(batch: Waiter[], error: unknown): void {
    if (tracing) stamp(TracePoint.syncDone, -1, batch.length);
    this.syncing = false;
    this.inflight = null;
    for (const fd of this.retired) this.files.close(fd);
    this.retired = [];
    if (error !== null && error !== undefined) {
      this.fail(error);
      for (const waiter of batch) waiter.reject(this.failure!);
      return;
    }
    this.syncs++;
    for (const waiter of batch) waiter.resolve();
    this.schedule();
  }

  /**
   * fail makes the log unusable: after a failed write or fsync the file state is unknown. A failed fsync in
   * particular is never retried (fsyncgate, see no_space.ts): the node stops. Only ENOSPC from a write is not a
   * failure (writeRecord, createSegment).
   */
  private fail(error: unknown): void {
    if (this.failure === null) {
      const message = error instanceof Error ? error.message : String(error);
      this.failure = new QklzlError("internal", `storage write failed, the log is unusable until restart: ${message}`, {}, { cause: error });
      consola.error(`[storage] ${this.failure.message}`);
    }
    const waiters = this.pending;
    this.pending = [];
    for (const waiter of waiters) waiter.reject(this.failure);
  }

  /**
   * rollIfFull rolls when the active segment is full; returns the failure (the log is then unusable) or null.
   * Called before a mutation touches the image: roll() first makes every earlier write durable, so the image
   * it checkpoints is exactly the durable state. Rolling after the image changed would publish (fsync) the new
   * commit index or snapshot in the checkpoint while the records it covers are written after it, unsynced: a
   * power cut there leaves a hard state or snapshot beyond the log (issue 10, item 1).
   */
  private rollIfFull(): Error | null {
    const active = this.segments[this.segments.length - 1]!;
    if (active.size < this.options.segmentBytes) return null;
    try {
      this.roll();
    } catch (error) {
      // A segment the full disk could not hold was never published: the active one stays, try again next save.
      if (isNoSpaceError(error)) return error as Error;
      this.fail(error);
      return this.failure;
    }
    return null;
  }

  /** roll seals the active segment (durably) and starts the next one with a checkpoint of the state. */
  private roll(): void {
    const sealed = this.segments[this.segments.length - 1]!;
    // Sealed segments end at their last record (recovery treats bad bytes in them as corruption, zeros too).
    this.files.ftruncate(this.fd, sealed.size);
    this.files.fdatasync(this.fd);
    const info = createSegment(this.files, this.options.walDir, sealed.seq + 1, this.mem);
    const fd = this.files.open(info.path, "r+");
    this.retired.push(this.fd);
    if (!this.syncing) {
      for (const old of this.retired) this.files.close(old);
      this.retired = [];
    }
    this.fd = fd;
    this.preallocated = info.size;
    this.zeroedEnd = info.size;
    this.segments.push(info);
  }
}

/**
 * makeRecoveredDurable fsyncs every segment recovery read, then the directory (removed tmp files, a cut tail).
 * After a process crash the page cache still holds records that never reached the disk; recovery reads them like
 * any other, and the node then serves them as durable (a new leader counts them toward commit). Without this, a
 * later power cut could drop an entry the cluster already counted (issue 10, item 2). A clean file's fsync costs
 * a syscall; only a crashed process's unsynced tail is written out.
 */
function makeRecoveredDurable(files: StorageFs, walDir: string, segments: SegmentInfo[]): void {
  for (const info of segments) {
    const fd = files.open(info.path, "r");
    try {
      files.fsync(fd);
    } finally {
      files.close(fd);
    }
  }
  files.fsyncDir(walDir);
}

/**
 * createSegment publishes a new segment atomically (tmp + fsync + rename + dir fsync). It starts with a
 * checkpoint (hard state and snapshot meta), so that older segments can be deleted without losing state.
 */
function createSegment(files: StorageFs, walDir: string, seq: number, mem: MemLog): SegmentInfo {
  const file = segmentPath(walDir, seq);
  const header = encodeSegmentHeader({ seq, firstIndex: mem.lastIndex() + 1 });
  const hardState = encodeEntries([], mem.hs);
  const snapshot = encodeSnapshotRecord({ meta: mem.snap, install: false, keep: true });
  const tmp = `${file}.tmp`;
  let fd: number;
  try {
    fd = files.open(tmp, "w");
  } catch (error) {
    if (isNoSpaceCause(error)) throw noSpaceError(`creating WAL segment ${seq}`, error);
    throw error;
  }
  try {
    try {
      files.writeAll(fd, header);
      files.writeAll(fd, hardState);
      files.writeAll(fd, snapshot);
    } catch (error) {
      if (!isNoSpaceCause(error)) throw error;
      files.close(fd);
      files.rm(tmp);
      fd = -1;
      throw noSpaceError(`creating WAL segment ${seq}`, error);
    }
    // A failed fsync propagates as it is: fatal, never retried (no_space.ts).
    files.fsync(fd);
  } finally {
    if (fd >= 0) files.close(fd);
  }
  files.rename(tmp, file);
  files.fsyncDir(walDir);
  const size = header.byteLength + hardState.byteLength + snapshot.byteLength;
  return { seq, path: file, size, minEntry: 0, maxEntry: 0 };
}
