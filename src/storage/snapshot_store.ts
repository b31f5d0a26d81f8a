// FileSnapshotStore keeps the last few snapshots in snap/, each published atomically
// (tmp + fsync + rename + dir fsync), each verified by CRC before use.
// File: 40-byte header | meta (msgpack) | data.
// Header: magic "QKLZLSNP" | version u32 | metaLen u32 | dataLen f64 | metaCrc u32 | dataCrc u32 | headerCrc u32 (of 0..32) | pad.
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { consola } from "consola";
import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";
import type { SnapshotMeta } from "../raft/types.ts";
import type { Snapshot, SnapshotDataReader, SnapshotStore, SnapshotWriter } from "./types.ts";
import { fsyncFailure, isNoSpaceCause, noSpaceError } from "./no_space.ts";
import { nodeFs, type StorageFs } from "./file_system.ts";

const snapshot_header_bytes = 40;
const snapshot_format_version = 1;
const snapshot_magic = new TextEncoder().encode("QKLZLSNP");
const packr = new Packr({ useRecords: false });
/** write_chunk_bytes bounds one write of a snapshot file (each is one thread-pool hop). */
const write_chunk_bytes = 4 * 1024 * 1024;
/**
 * sync_every_bytes: an image being written is fdatasynced each time this much more of it is written, not only
 * at the end. On ext4 (data=ordered) the WAL's next fdatasync commits the journal, and the commit first writes
 * back every other file's newly allocated dirty pages: a 64 MiB image written whole and synced at the end made
 * the WAL syncs of all three nodes (one disk) wait behind it: p99 of 16 KiB puts at 64 connections 158-167 ms
 * with snapshots, 59-62 ms without (BENCHMARKS.md, 2026-12-03). Syncing as it goes keeps that backlog small.
 */
const sync_every_bytes = 4 * 1024 * 1024;

function crc(buf: Uint8Array): number {
  return Bun.hash.crc32(buf) >>> 0;
}

/** crc32 continues a CRC over one more piece: crc32(b, crc(a)) === crc(a ++ b). */
function crc32(buf: Uint8Array, previous: number): number {
  return Bun.hash.crc32(buf, previous) >>> 0;
}

export function snapshotFileName(meta: SnapshotMeta): string {
  return `${String(meta.index).padStart(20, "0")}-${String(meta.term).padStart(20, "0")}.snap`;
}

export function encodeSnapshotFile(meta: SnapshotMeta, data: Uint8Array): Uint8Array[] {
  const metaBytes = packr.pack(meta);
  return [encodeSnapshotHeader(metaBytes, data.byteLength, crc(data)), metaBytes, data];
}

function encodeSnapshotHeader(metaBytes: Uint8Array, dataLen: number, dataCrc: number): Uint8Array {
  const header = new Uint8Array(snapshot_header_bytes);
  const view = new DataView(header.buffer);
  header.set(snapshot_magic, 0);
  view.setUint32(8, snapshot_format_version, true);
  view.setUint32(12, metaBytes.byteLength, true);
  view.setFloat64(16, dataLen, true);
  view.setUint32(24, crc(metaBytes), true);
  view.setUint32(28, dataCrc, true);
  view.setUint32(32, crc(header.subarray(0, 32)), true);
  return header;
}

/** decodeSnapshotFile verifies header, meta and data CRCs; returns the snapshot or the reason it is unusable. */
export function decodeSnapshotFile(buf: Uint8Array): Snapshot | string {
  if (buf.byteLength < snapshot_header_bytes) return `file of ${buf.byteLength} bytes is shorter than a snapshot header`;
  for (let i = 0; i < snapshot_magic.length; i++) if (buf[i] !== snapshot_magic[i]) return "bad snapshot magic";
  const view = new DataView(buf.buffer, buf.byteOffset, snapshot_header_bytes);
  if (crc(buf.subarray(0, 32)) !== view.getUint32(32, true)) return "snapshot header CRC mismatch";
  if (view.getUint32(8, true) !== snapshot_format_version) return `unsupported snapshot version ${view.getUint32(8, true)}`;
  const metaLen = view.getUint32(12, true);
  const dataLen = view.getFloat64(16, true);
  if (snapshot_header_bytes + metaLen + dataLen !== buf.byteLength) {
    return `snapshot is ${buf.byteLength} bytes, header promises ${snapshot_header_bytes + metaLen + dataLen}`;
  }
  const metaBytes = buf.subarray(snapshot_header_bytes, snapshot_header_bytes + metaLen);
  const data = buf.subarray(snapshot_header_bytes + metaLen);
  if (crc(metaBytes) !== view.getUint32(24, true)) return "snapshot meta CRC mismatch";
  if (crc(data) !== view.getUint32(28, true)) return "snapshot data CRC mismatch";
  const meta = packr.unpack(metaBytes) as SnapshotMeta;
  return { meta, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

interface StoredSnapshot {
  meta: SnapshotMeta;
  file: string;
}

export interface SnapshotStoreOptions {
  snapDir: string;
  retained: number;
  /** published runs after a snapshot file is durable and before older ones are reaped (the log notes the meta). */
  published?: (meta: SnapshotMeta) => Promise<void>;
  /** files: the file layer (default node:fs; tests inject a power-loss model). */
  files?: StorageFs;
}

export class FileSnapshotStore implements SnapshotStore {
  /** valid: verified snapshots, oldest first. */
  private valid: StoredSnapshot[];
  published: ((meta: SnapshotMeta) => Promise<void>) | null;
  private tmpSeq = 0;
  private readonly files: StorageFs;

  private constructor(private readonly options: SnapshotStoreOptions, valid: StoredSnapshot[]) {
    this.valid = valid;
    this.published = options.published ?? null;
    this.files = options.files ?? nodeFs;
  }

  /** open verifies every snapshot file (CRC of meta and data); unusable ones are skipped with a warning. */
  static open(options: SnapshotStoreOptions): FileSnapshotStore {
    assert(options.retained >= 1, "at least one snapshot is retained");
    const files = options.files ?? nodeFs;
    // A new directory's own entry is durable only once its parent is fsynced.
    if (files.mkdirp(options.snapDir) !== undefined) files.fsyncDir(path.dirname(options.snapDir));
    const names = files.readdir(options.snapDir).sort();
    const valid: StoredSnapshot[] = [];
    for (const name of names) {
      const file = path.join(options.snapDir, name);
      if (name.endsWith(".tmp")) {
        // A snapshot whose publication was interrupted (crash before rename): never visible, so drop it.
        files.rm(file);
        continue;
      }
      if (!name.endsWith(".snap")) continue;
      const decoded = decodeSnapshotFile(files.readFile(file));
      if (typeof decoded === "string") {
        consola.warn(`[storage] snapshot ${file} is unusable (${decoded}); skipping it`);
        continue;
      }
      valid.push({ meta: decoded.meta, file });
    }
    valid.sort((a, b) => a.meta.index - b.meta.index);
    // A snapshot renamed into place just before a process crash is visible but its name may not be durable yet
    // (the directory fsync never ran); the log may note it at open, and then compact behind it. Make the names
    // durable before anything relies on them. The files' data was fsynced before each rename made them visible.
    files.fsyncDir(options.snapDir);
    return new FileSnapshotStore(options, valid);
  }

  latestMeta(): SnapshotMeta | null {
    return this.valid[this.valid.length - 1]?.meta ?? null;
  }

  save(meta: SnapshotMeta, data: Uint8Array): Promise<void> {
    return this.saveFrom(meta, async (out) => {
      for (let offset = 0; offset < data.byteLength; offset += write_chunk_bytes) {
        await out.write(data.subarray(offset, Math.min(data.byteLength, offset + write_chunk_bytes)));
      }
    });
  }

  /**
   * saveFrom publishes a snapshot whose image `produce` writes piece by piece (a local snapshot of a big map is
   * never whole in memory). The header's data length and CRC are filled in at the end, before the fsync; if
   * produce throws, the tmp file is removed and nothing is published.
   */
  async saveFrom(meta: SnapshotMeta, produce: (out: SnapshotWriter) => Promise<void>): Promise<void> {
    const file = path.join(this.options.snapDir, snapshotFileName(meta));
    // A unique tmp name: two saves of the same snapshot at once must not write into one file.
    const tmp = `${file}.${++this.tmpSeq}.tmp`;
    const metaBytes = packr.pack(meta);
    // Async writes in bounded chunks: a large image must not block the event loop (heartbeats) while it is written.
    let handle: Awaited<ReturnType<StorageFs["openForWrite"]>>;
    try {
      handle = await this.files.openForWrite(tmp);
    } catch (error) {
      if (isNoSpaceCause(error)) throw noSpaceError(`snapshot ${meta.index}`, error);
      throw error;
    }
    let published = false;
    try {
      let position = snapshot_header_bytes;
      let dataCrc = 0;
      let dataLen = 0;
      let unsynced = 0;
      // A failed fsync is never retried (no_space.ts): marked, so the node stops rather than try again.
      const syncImage = () =>
        handle.sync().catch((error) => {
          throw fsyncFailure(`snapshot ${meta.index}`, error);
        });
      const writeAt = async (buf: Uint8Array) => {
        for (let offset = 0; offset < buf.byteLength; offset += write_chunk_bytes) {
          const part = buf.subarray(offset, Math.min(buf.byteLength, offset + write_chunk_bytes));
          await handle.write(part, position);
          position += part.byteLength;
          unsynced += part.byteLength;
          if (unsynced >= sync_every_bytes) {
            unsynced = 0;
            await syncImage();
          }
        }
      };
      await writeAt(metaBytes);
      await produce({
        write: async (chunk) => {
          dataCrc = crc32(chunk, dataCrc);
          dataLen += chunk.byteLength;
          await writeAt(chunk);
        },
      });
      const header = encodeSnapshotHeader(metaBytes, dataLen, dataCrc);
      await handle.write(header, 0);
      await syncImage();
      published = true;
    } catch (error) {
      // ENOSPC from a write: the tmp file goes (below) and nothing was published; the snapshot is retried later.
      if (isNoSpaceCause(error)) throw noSpaceError(`snapshot ${meta.index}`, error);
      throw error;
    } finally {
      await handle.close();
      if (!published) this.files.rm(tmp);
    }
    // Off the event loop: a rename and a directory fsync can each take milliseconds while the disk is busy.
    await this.files.renameAsync(tmp, file);
    await this.files.fsyncDirAsync(this.options.snapDir).catch((error) => {
      throw fsyncFailure(`snapshot directory ${this.options.snapDir}`, error);
    });
    this.valid = this.valid.filter((s) => s.file !== file);
    this.valid.push({ meta, file });
    this.valid.sort((a, b) => a.meta.index - b.meta.index);
    if (this.published !== null) await this.published(meta);
    await this.reap();
  }

  /**
   * openLatestData opens the newest snapshot's file for reading its image in pieces (a backup streams it without
   * holding it whole): the header and meta are checked here, the data CRC by the reader as it goes. The open fd
   * keeps the file readable even if a newer snapshot reaps it meanwhile. null when no snapshot is stored.
   */
  async openLatestData(): Promise<SnapshotDataReader | null> {
    const newest = this.valid[this.valid.length - 1];
    if (newest === undefined) return null;
    const handle = await fsp.open(newest.file, "r");
    try {
      const head = new Uint8Array(snapshot_header_bytes);
      const { bytesRead } = await handle.read(head, 0, snapshot_header_bytes, 0);
      const view = new DataView(head.buffer);
      if (bytesRead !== snapshot_header_bytes || crc(head.subarray(0, 32)) !== view.getUint32(32, true)) {
        throw new Error(`snapshot ${newest.file}: header unreadable or CRC mismatch`);
      }
      const metaLen = view.getUint32(12, true);
      const dataLen = view.getFloat64(16, true);
      const dataCrc = view.getUint32(28, true);
      const dataOffset = snapshot_header_bytes + metaLen;
      let position = dataOffset;
      let running = 0;
      return {
        meta: newest.meta,
        file: newest.file,
        dataLen,
        /** read fills buf from the image; returns the bytes read (0 at the end, where the CRC is checked). */
        async read(buf: Uint8Array): Promise<number> {
          const want = Math.min(buf.byteLength, dataOffset + dataLen - position);
          if (want === 0) {
            if (running !== dataCrc) throw new Error(`snapshot ${newest.file}: data CRC mismatch (${running} != ${dataCrc})`);
            return 0;
          }
          const { bytesRead: got } = await handle.read(buf, 0, want, position);
          if (got <= 0) throw new Error(`snapshot ${newest.file}: ends at ${position}, header promises ${dataOffset + dataLen}`);
          running = crc32(buf.subarray(0, got), running);
          position += got;
          return got;
        },
        close: () => handle.close(),
      };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async loadLatest(): Promise<Snapshot | null> {
    while (this.valid.length > 0) {
      const newest = this.valid[this.valid.length - 1]!;
      let decoded: Snapshot | string;
      try {
        decoded = decodeSnapshotFile(await this.files.readFileAsync(newest.file));
      } catch (error) {
        decoded = String(error);
      }
      if (typeof decoded !== "string") return decoded;
      consola.warn(`[storage] snapshot ${newest.file} is unusable (${decoded}); falling back to the previous one`);
      this.valid.pop();
    }
    return null;
  }

  /** reap deletes the oldest snapshots beyond the retention count; failures only leave extra files behind. */
  private async reap(): Promise<void> {
    const excess = this.valid.length - this.options.retained;
    if (excess <= 0) return;
    for (const old of this.valid.splice(0, excess)) await this.files.rmAsync(old.file);
    await this.files.fsyncDirAsync(this.options.snapDir);
  }
}
