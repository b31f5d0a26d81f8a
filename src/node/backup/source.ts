import { createHash } from "node:crypto";
import { readImageSummary } from "../../kv/index.ts";
import { assert } from "../../shared/assert.ts";
import { QklzlError } from "../../shared/errors.ts";
import type { SnapshotStore } from "../../storage/types.ts";
import { type BackupHeader, backup_format, backup_format_version, backupFileBytes, backupPadding, encodeBackupPreamble } from "./format.ts";

/** backup_chunk_bytes: one piece of a backup stream (one HTTP chunk, one gRPC SnapshotResponse blob). */
export const backup_chunk_bytes = 1024 * 1024;
/** summary_bytes: how much of the image is read up front for its header (the header frame is far smaller). */
const summary_bytes = 64 * 1024;

/** BackupStream: one backup being streamed, header known before the first byte. */
export interface BackupStream {
  header: BackupHeader;
  /** size: every byte chunks() yields, the 32-byte sha256 included. */
  size: number;
  /**
   * chunks yields the file in order (format.ts), the sha256 last. If the stored image fails its CRC it throws
   * before the sha256: a reader never gets a complete, checksummed file of corrupt data. Closes at the end.
   */
  chunks(): AsyncGenerator<Uint8Array>;
  /** close releases the file (idempotent; chunks() calls it when done or abandoned). */
  close(): Promise<void>;
}

export interface BackupSourceDeps {
  /** take snapshots the state machine at its applied index now (joins one already running). */
  take(): Promise<{ index: number }>;
  snapshots: SnapshotStore;
  clusterId(): string | null;
  nodeId: number;
}

/**
 * openBackup takes a snapshot now (so the backup is as recent as the applied index) and streams the newest
 * stored snapshot's file: a consistent image at one applied index, read from disk in backup_chunk_bytes pieces,
 * so the node holds no second copy of its state (the image is written by the snapshotter's copy-on-write view
 * and read back from the file).
 */
export async function openBackup(deps: BackupSourceDeps): Promise<BackupStream> {
  await deps.take();
  if (deps.snapshots.openLatestData === undefined) throw new QklzlError("not_ready", "this node's snapshot store cannot stream a backup");
  const opened = await deps.snapshots.openLatestData();
  if (opened === null) throw new QklzlError("not_ready", "no snapshot is stored yet; retry once the node applied its log");
  const reader = opened;
  try {
    const prefix = new Uint8Array(Math.min(summary_bytes, reader.dataLen));
    let filled = 0;
    while (filled < prefix.length) {
      const got = await reader.read(prefix.subarray(filled));
      assert(got > 0, "backup: the image is as long as its header says");
      filled += got;
    }
    const summary = readImageSummary(prefix);
    if (summary.index !== reader.meta.index) {
      throw new QklzlError("storage_corrupt", `snapshot ${reader.file} holds an image at ${summary.index}, its meta says ${reader.meta.index}`);
    }
    const header: BackupHeader = {
      format: backup_format,
      version: backup_format_version,
      index: reader.meta.index,
      term: reader.meta.term,
      revision: summary.revision,
      keys: summary.keys,
      kv_hash: summary.hash,
      image_bytes: reader.dataLen,
      cluster_id: deps.clusterId(),
      node_id: deps.nodeId,
      created_at: new Date().toISOString(),
    };
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await reader.close();
    };
    async function* chunks(): AsyncGenerator<Uint8Array> {
      try {
        const sha = createHash("sha256");
        const preamble = encodeBackupPreamble(header);
        sha.update(preamble);
        yield preamble;
        sha.update(prefix);
        yield prefix;
        let sent = prefix.length;
        for (;;) {
          // A fresh buffer per piece: the consumer (an HTTP or gRPC stream) may still hold the previous one.
          const buf = new Uint8Array(Math.min(backup_chunk_bytes, Math.max(1, reader.dataLen - sent)));
          const got = await reader.read(buf); // 0 at the end, after the CRC check passed
          if (got === 0) break;
          const piece = buf.subarray(0, got);
          sha.update(piece);
          sent += got;
          yield piece;
        }
        assert(sent === reader.dataLen, `backup: streamed ${sent} image bytes of ${reader.dataLen}`);
        const padding = new Uint8Array(backupPadding(preamble.length, reader.dataLen));
        sha.update(padding);
        if (padding.length > 0) yield padding;
        yield new Uint8Array(sha.digest());
      } finally {
        await close();
      }
    }
    return { header, size: backupFileBytes(header), chunks, close };
  } catch (error) {
    await reader.close();
    throw error;
  }
}
