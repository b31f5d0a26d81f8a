import type { ConsolaInstance } from "consola";
import type { Entry, HardState, Index, SnapshotMeta, Term } from "../raft/types.ts";
import { QklzlError } from "../shared/errors.ts";
import { isFsyncFailure, isNoSpaceError } from "../storage/index.ts";
import type { LogStore, Snapshot, SnapshotStore, SnapshotWriter, Storage } from "../storage/types.ts";

/** disk_full_retry_ms: how often a WAL write the full disk refused is tried again. */
export const disk_full_retry_ms = 1000;

export interface DiskFullHooks {
  logger: ConsolaInstance;
  /** onFull: the first no_space of a spell (the node raises NOSPACE, refuses writes at once). */
  onFull(error: Error): void;
  /** onSpace: a write succeeded again after a spell of no_space. */
  onSpace(): void;
  /** onFatal: a failed fsync of a snapshot: the node must stop (never retried). */
  onFatal(error: Error): void;
}

/**
 * DiskFullGuard keeps a node up while its disk is full (issue 15, Guardrails). The storage answers a write that
 * ENOSPC refused with no_space and changes nothing (src/storage/no_space.ts), so the same WAL save can be made
 * again: this guard does so every second until it succeeds, instead of handing the error to the runtime (which
 * stops on any storage error). The runtime's loop waits on that save meanwhile, so this node acknowledges no
 * entry it has not written; the others go on, its stale reads, /status and /metrics are served, and the
 * NOSPACE alarm it asks for (onFull) stops writes cluster-wide. A failed snapshot write just skips that snapshot
 * (the snapshotter retries); a failed fsync anywhere is never retried: the WAL makes itself unusable, and a
 * snapshot's goes to onFatal.
 */
export class DiskFullGuard {
  full = false;
  private stopped = false;
  private wakeRetry: (() => void) | null = null;

  constructor(private readonly hooks: DiskFullHooks) {}

  /** wrap: the storage with the guarded log and snapshot store. */
  wrap(storage: Storage): Storage {
    const log = new GuardedLog(storage.log, this);
    const snapshots = guardedSnapshots(storage.snapshots, this);
    return {
      dir: storage.dir,
      get meta() {
        return storage.meta;
      },
      get fresh() {
        return storage.fresh;
      },
      log,
      snapshots,
      setClusterId: (clusterId) => storage.setClusterId(clusterId),
      close: () => storage.close(),
    };
  }

  /** stop ends the retries: a save still waiting for space rejects with shutting_down. */
  stop(): void {
    this.stopped = true;
    this.wakeRetry?.();
  }

  /** saveUntilWritten: the WAL save, made again while the disk refuses it. */
  async saveUntilWritten(save: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await save();
        this.spaceAgain();
        return;
      } catch (error) {
        if (!isNoSpaceError(error) || this.stopped) throw error;
        this.noSpace(error as Error);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, disk_full_retry_ms);
        this.wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeRetry = null;
      if (this.stopped) throw new QklzlError("shutting_down", "the node stopped while its disk was full; the write was not made");
    }
  }

  /** watchSnapshot: a snapshot write's failure, sorted: no_space marks the disk full, a failed fsync is fatal. */
  async watchSnapshot<T>(write: () => Promise<T>): Promise<T> {
    try {
      const result = await write();
      this.spaceAgain();
      return result;
    } catch (error) {
      if (isNoSpaceError(error)) this.noSpace(error as Error);
      else if (isFsyncFailure(error)) this.hooks.onFatal(error as Error);
      throw error;
    }
  }

  private noSpace(error: Error): void {
    if (this.full) return;
    this.full = true;
    this.hooks.logger.error(`disk full: ${error.message}; writes stop (no_space), reads go on; retrying every ${disk_full_retry_ms / 1000} s`);
    this.hooks.onFull(error);
  }

  private spaceAgain(): void {
    if (!this.full) return;
    this.full = false;
    this.hooks.logger.info("disk space is back: the refused write succeeded; disarm NOSPACE once the cause is fixed (qklzl alarm disarm)");
    this.hooks.onSpace();
  }
}

/** GuardedLog: the LogStore with save() going through DiskFullGuard.saveUntilWritten; the rest as it is. */
class GuardedLog implements LogStore {
  constructor(
    private readonly inner: LogStore,
    private readonly guard: DiskFullGuard,
  ) {}

  get tornBytesAtOpen(): number | undefined {
    return this.inner.tornBytesAtOpen;
  }
  firstIndex(): Index {
    return this.inner.firstIndex();
  }
  lastIndex(): Index {
    return this.inner.lastIndex();
  }
  term(index: Index): Term | undefined {
    return this.inner.term(index);
  }
  entries(lo: Index, hi: Index, bytesMax: number): Entry[] {
    return this.inner.entries(lo, hi, bytesMax);
  }
  snapshotMeta(): SnapshotMeta {
    return this.inner.snapshotMeta();
  }
  hardState(): HardState {
    return this.inner.hardState();
  }
  save(entries: Entry[], hardState: HardState | null): Promise<void> {
    return this.guard.saveUntilWritten(() => this.inner.save(entries, hardState));
  }
  compact(index: Index): Promise<void> {
    return this.inner.compact(index);
  }
  release(index: Index): void {
    this.inner.release?.(index);
  }
  setInlineSync(inline: boolean): void {
    this.inner.setInlineSync?.(inline);
  }
  installSnapshot(meta: SnapshotMeta): Promise<void> {
    return this.guard.saveUntilWritten(() => this.inner.installSnapshot(meta));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** guardedSnapshots: the SnapshotStore with its writes watched (every method of SnapshotStore must be passed on). */
function guardedSnapshots(inner: SnapshotStore, guard: DiskFullGuard): SnapshotStore {
  const saveFrom = inner.saveFrom;
  return {
    save: (meta: SnapshotMeta, data: Uint8Array) => guard.watchSnapshot(() => inner.save(meta, data)),
    ...(saveFrom === undefined
      ? {}
      : { saveFrom: (meta: SnapshotMeta, produce: (out: SnapshotWriter) => Promise<void>) => guard.watchSnapshot(() => saveFrom.call(inner, meta, produce)) }),
    latestMeta: () => inner.latestMeta(),
    loadLatest: (): Promise<Snapshot | null> => inner.loadLatest(),
    // Reads pass through as they are (a backup streams the newest snapshot with it).
    ...(inner.openLatestData === undefined ? {} : { openLatestData: () => inner.openLatestData!() }),
  };
}
