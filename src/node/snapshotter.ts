import type { ConsolaInstance } from "consola";
import type { KvStateMachine } from "../kv/index.ts";
import type { RaftNode } from "../raft/api.ts";
import type { Message, SnapshotMeta } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { limits } from "../shared/limits.ts";
import type { Storage } from "../storage/types.ts";
import type { Transport } from "../transport/types.ts";
import type { NodeMetrics } from "./metrics.ts";

/** After a failed automatic snapshot, wait this long before the next attempt. */
const snapshot_retry_ms = 10_000;
/**
 * A snapshot costs O(keys) (~0.6 s and a 120 MB file at a million keys), so with big maps automatic snapshots
 * also wait for keys / big_map_spacing applied entries: that bounds their cost per write (~8 keys serialized
 * per entry) where every 10,000 entries would spend more CPU and disk on snapshots than on the writes. Small
 * maps (the tests' and most clusters') keep the plain snapshotEntries spacing.
 */
const big_map_keys = 100_000;
const big_map_spacing = 8;

/** StaleSnapshot aborts the publication of a snapshot that a received one overtook. */
class StaleSnapshot extends Error {}

export interface SnapshotContext {
  storage: Storage;
  kv: KvStateMachine;
  logger: ConsolaInstance;
  metrics: NodeMetrics;
  snapshotEntries: number;
  /**
   * snapshotBytes: also snapshot once the entries applied since the last snapshot hold this many command bytes
   * (they stay in memory until a snapshot compacts them: 10,000 × 1 MiB would not fit).
   */
  snapshotBytes: number;
  /** appliedBytes: command bytes this process has applied so far (a running total, replay included). */
  appliedBytes(): number;
  /**
   * snapshotPhase in [0, 1): this node's first automatic snapshot comes that share of the spacing early, so
   * that replicas (which apply the same indexes at about the same moment) do not all snapshot at once.
   */
  snapshotPhase?: number;
  trailingEntries: number;
  /** trailingBytes: compaction keeps no more than about this many bytes of trailing entries (limits.trailing_bytes_max). */
  trailingBytes?: number;
  /** appliedMeta: index, term and configuration of the last applied entry (what a snapshot now covers). */
  appliedMeta(): SnapshotMeta;
  /** isDurable: this node's log holds entry (index, term) on disk (an applied entry may not be, on a follower). */
  isDurable(index: number, term: number): boolean;
  /** nextSave resolves once the running (or next) log write completes; rejects when the node stops. */
  nextSave(): Promise<void>;
  core(): RaftNode;
  transport(): Transport;
  wake(): void;
  /** installed: a received snapshot replaced the state (the runtime resets its applied bookkeeping). */
  installed(meta: SnapshotMeta): void;
}

/**
 * Snapshotter takes snapshots (every snapshotEntries applied entries, spaced further for big maps, or on demand) and compacts the log
 * behind them keeping trailingEntries; streams the newest snapshot to followers the core asks for; and stages
 * received images until the core hands their meta back in a Ready.
 */
export class Snapshotter {
  private taking: Promise<{ index: number }> | null = null;
  private lastIndex: number;
  /** generation changes when a received snapshot replaces the map: a snapshot taken before is then stale. */
  private generation = 0;
  private readonly sending = new Set<number>();
  /** staged: received images by index until the core hands their meta back (at most two are kept). */
  private readonly staged = new Map<number, { meta: SnapshotMeta; data: Uint8Array }>();
  /** cache holds the image being streamed to followers (released once no transfer is running). */
  private cache: { index: number; meta: SnapshotMeta; data: Uint8Array } | null = null;
  private retryAt = 0;
  /** early: no automatic snapshot yet in this process (the first one is shifted by snapshotPhase). */
  private early = true;
  /** bytesAtLast: appliedBytes() when the last snapshot's image was fixed (or installed). */
  private bytesAtLast = 0;
  /**
   * marks: (index, appliedBytes) after each Ready, oldest first, back to the last compaction point: where the
   * trailing bytes bound puts the next compaction. One per Ready (one per put at one connection: up to a snapshot
   * spacing of them), dropped as the log is compacted past them; two arrays of numbers, not an object per mark
   * for every garbage collection to trace.
   */
  private readonly markIndexes: number[] = [];
  private readonly markBytes: number[] = [];

  constructor(private readonly context: SnapshotContext) {
    this.lastIndex = context.storage.log.snapshotMeta().index;
  }

  get lastSnapshotIndex(): number {
    return this.lastIndex;
  }

  /** maybeTake starts an automatic snapshot once enough entries were applied since the last one. */
  maybeTake(): void {
    const applied = this.context.appliedBytes();
    const index = this.context.kv.appliedIndex;
    const marks = this.markIndexes.length;
    if (marks === 0 || index > this.markIndexes[marks - 1]!) {
      this.markIndexes.push(index);
      this.markBytes.push(applied);
    }
    if (this.taking !== null || performance.now() < this.retryAt) return;
    if (applied - this.bytesAtLast >= this.context.snapshotBytes) {
      this.start();
      return;
    }
    const keys = this.context.kv.size;
    const spacing = Math.max(this.context.snapshotEntries, keys >= big_map_keys ? Math.floor(keys / big_map_spacing) : 0);
    // Earlier, never later: the spacing stays a bound on the log kept; each replica's snapshots then keep
    // their own phase (the next is due `spacing` entries after the last).
    const due = this.early ? Math.max(1, spacing - Math.floor((this.context.snapshotPhase ?? 0) * spacing)) : spacing;
    if (index - this.lastIndex < due) return;
    this.start();
  }

  private start(): void {
    this.early = false;
    this.take().catch((error) => {
      // Retry later, not at every Ready (a full disk would otherwise flood the log).
      this.retryAt = performance.now() + snapshot_retry_ms;
      this.context.logger.error(`snapshot failed (retrying in ${snapshot_retry_ms / 1000} s): ${String(error)}`);
    });
  }

  /** take snapshots the map at the applied index now (joins a snapshot already running). */
  take(): Promise<{ index: number }> {
    if (this.taking !== null) return this.taking;
    const meta = this.context.appliedMeta();
    if (meta.index <= this.lastIndex) return Promise.resolve({ index: this.lastIndex });
    const bytes = this.context.appliedBytes(); // the image is fixed synchronously in write(), at these bytes
    this.taking = this.write(meta, bytes).finally(() => {
      this.taking = null;
    });
    return this.taking;
  }

  private async write(meta: SnapshotMeta, appliedBytes: number): Promise<{ index: number }> {
    const started = performance.now();
    const generation = this.generation;
    // Fixed synchronously, before any await: the image is the state exactly at meta.index.
    const image = this.context.kv.beginSnapshot();
    assert(image.index === meta.index, `snapshot: kv at ${image.index}, meta at ${meta.index}`);
    const stale = () => generation !== this.generation || meta.index <= this.lastIndex; // a received snapshot overtook this one
    let bytes = 0;
    try {
      // A follower may have applied entries its log does not hold on disk yet (see isDurable). Publishing then
      // would cover entries a crash could take from the log, and make the WAL restart its log after an index
      // it has not even received into its image. The image stays fixed at meta.index (copy-on-write) meanwhile.
      while (!this.context.isDurable(meta.index, meta.term)) {
        if (stale()) return { index: this.lastIndex };
        await this.context.nextSave();
      }
      const store = this.context.storage.snapshots;
      if (store.saveFrom !== undefined) {
        // Streamed to the file in ~1 MiB pieces: a big map's image (120 MB at 1M keys) is never whole in memory.
        await store.saveFrom(meta, async (out) => {
          await image.writeTo(async (chunk) => {
            bytes += chunk.length;
            await out.write(chunk);
          });
          if (stale()) throw new StaleSnapshot();
        });
      } else {
        const chunks: Uint8Array[] = [];
        await image.writeTo(async (chunk) => {
          chunks.push(new Uint8Array(chunk)); // a copy: the writer reuses its buffer (Buffer#slice would alias it)
        });
        const data = Buffer.concat(chunks);
        bytes = data.length;
        if (stale()) return { index: this.lastIndex };
        await store.save(meta, data);
      }
    } catch (error) {
      if (error instanceof StaleSnapshot) return { index: this.lastIndex };
      throw error;
    } finally {
      image.close();
    }
    this.lastIndex = meta.index;
    this.bytesAtLast = Math.max(this.bytesAtLast, appliedBytes);
    this.context.metrics.snapshotsTaken++;
    const log = this.context.storage.log;
    const compactTo = this.compactionPoint(meta.index, appliedBytes);
    if (compactTo >= log.firstIndex()) await log.compact(compactTo);
    // Whole-segment compaction keeps up to a segment of entries in memory; let go of them now.
    if (compactTo >= log.firstIndex()) log.release?.(compactTo);
    const ms = (performance.now() - started).toFixed(0);
    this.context.logger.info(
      `snapshot at index ${meta.index} (term ${meta.term}, ${this.context.kv.size} keys, ${bytes} bytes) in ${ms} ms; log now [${log.firstIndex()}, ${log.lastIndex()}]`,
    );
    return { index: meta.index };
  }

  /**
   * compactionPoint: the log is compacted up to here after a snapshot at `index`: trailingEntries behind it,
   * or closer where those entries would hold more than trailingBytes (one Ready's granularity).
   */
  private compactionPoint(index: number, bytes: number): number {
    let point = index - this.context.trailingEntries;
    const trailingBytes = this.context.trailingBytes ?? limits.trailing_bytes_max;
    const indexes = this.markIndexes;
    for (let i = 0; i < indexes.length; i++) {
      if (indexes[i]! > index) break;
      if (bytes - this.markBytes[i]! >= trailingBytes) point = Math.max(point, indexes[i]!);
      else break;
    }
    let behind = 0;
    while (behind < indexes.length && indexes[behind]! < point) behind++;
    // One splice each: shift() per mark would be quadratic.
    indexes.splice(0, behind);
    this.markBytes.splice(0, behind);
    return point;
  }

  /** send streams the newest snapshot to m.to (the core asked for it) and reports the outcome to the core. */
  send(m: Message & { type: "snapshot" }): void {
    if (this.sending.has(m.to)) return;
    this.sending.add(m.to);
    void this.stream(m).finally(() => {
      this.sending.delete(m.to);
      if (this.sending.size === 0) this.cache = null; // a 100 MB image is not kept around between transfers
    });
  }

  private async stream(m: Message & { type: "snapshot" }): Promise<void> {
    let ok = false;
    try {
      const snapshot = await this.newest();
      if (snapshot === null) {
        this.context.logger.warn(`node ${m.to} needs a snapshot but none is stored`);
      } else {
        const started = performance.now();
        this.context.logger.info(`sending snapshot ${snapshot.meta.index} (${snapshot.data.length} bytes) to node ${m.to}`);
        ok = await this.context.transport().sendSnapshot({ ...m, snapshot: snapshot.meta }, snapshot.data);
        const ms = (performance.now() - started).toFixed(0);
        if (ok) this.context.logger.info(`snapshot ${snapshot.meta.index} sent to node ${m.to} in ${ms} ms`);
        else this.context.logger.warn(`snapshot ${snapshot.meta.index} to node ${m.to} failed after ${ms} ms; will retry`);
      }
    } catch (error) {
      this.context.logger.warn(`snapshot to node ${m.to} failed: ${String(error)}`);
    }
    if (ok) this.context.metrics.snapshotsSent++;
    else this.context.metrics.snapshotsSendFailed++;
    this.context.core().reportSnapshot(m.to, ok);
    this.context.wake();
  }

  private async newest(): Promise<{ meta: SnapshotMeta; data: Uint8Array } | null> {
    const latest = this.context.storage.snapshots.latestMeta();
    if (latest === null) return null;
    if (this.cache !== null && this.cache.index === latest.index) return this.cache;
    const loaded = await this.context.storage.snapshots.loadLatest();
    if (loaded === null) return null;
    this.cache = { index: loaded.meta.index, meta: loaded.meta, data: loaded.data };
    return this.cache;
  }

  /** receive stages a complete image from the leader, then steps its message into the core. */
  receive(m: Message & { type: "snapshot" }, data: Uint8Array): void {
    this.context.logger.info(`received snapshot ${m.snapshot.index} (term ${m.snapshot.term}, ${data.length} bytes) from node ${m.from}`);
    this.staged.set(m.snapshot.index, { meta: m.snapshot, data });
    while (this.staged.size > 2) this.staged.delete(Math.min(...this.staged.keys()));
    this.context.core().step(m);
    this.context.wake();
  }

  /** install persists and applies the snapshot the core accepted (Ready.snapshot): image, log, then map. */
  async install(meta: SnapshotMeta): Promise<void> {
    const staged = this.staged.get(meta.index);
    assert(staged !== undefined && staged.meta.term === meta.term, `snapshot ${meta.index}: no staged image`);
    for (const index of [...this.staged.keys()]) if (index <= meta.index) this.staged.delete(index);
    this.generation++;
    const started = performance.now();
    await this.context.storage.snapshots.save(meta, staged.data);
    await this.context.storage.log.installSnapshot(meta);
    await this.context.kv.restore(staged.data);
    assert(this.context.kv.appliedIndex === meta.index, `snapshot ${meta.index}: image is at ${this.context.kv.appliedIndex}`);
    this.lastIndex = Math.max(this.lastIndex, meta.index);
    this.bytesAtLast = this.context.appliedBytes();
    // The log restarts after meta.index.
    this.markIndexes.length = 0;
    this.markBytes.length = 0;
    this.context.metrics.snapshotsInstalled++;
    this.context.installed(meta);
    const ms = (performance.now() - started).toFixed(0);
    this.context.logger.info(`installed snapshot ${meta.index} (term ${meta.term}, ${this.context.kv.size} keys) in ${ms} ms`);
  }

  /** idle resolves once no snapshot is being written (stop waits for it before closing storage). */
  async idle(): Promise<void> {
    await this.taking?.catch(() => undefined);
  }
}
