// The backup file (`qklzl snapshot save`, GET /snapshot, Maintenance.Snapshot: the same bytes on every path):
//   "QKLZLBAK" | u32 BE header length | header (JSON, BackupHeader) | image (the store's snapshot image, as the
//   node keeps it in snap/) | zero padding to a multiple of 512 bytes | sha256 of every byte before it (32 bytes).
// The trailing sha256 is etcd's convention (etcdctl and etcdutl check the last 32 bytes of a snapshot against
// the rest, and find them only where the size is 32 past a multiple of 512: bbolt files are page-aligned;
// hence the padding), so `etcdctl snapshot save` against qklzl produces this file; the body is not etcd's bbolt
// database, so `etcdctl snapshot status` cannot read it (use `qklzl snapshot status`).
import { createHash } from "node:crypto";
import { QklzlError } from "../../shared/errors.ts";
import { assert } from "../../shared/assert.ts";

export const backup_magic = new TextEncoder().encode("QKLZLBAK");
export const backup_format = "qklzl-backup";
export const backup_format_version = 1;
export const backup_checksum_bytes = 32;
/** backup_align_bytes: the body (all but the sha256) is padded to a multiple of this (etcdctl's check). */
export const backup_align_bytes = 512;
/** backup_header_bytes_max bounds the JSON header a reader accepts (a real one is a few hundred bytes). */
export const backup_header_bytes_max = 64 * 1024;

/** BackupHeader: what the file holds, readable before its image (status, progress, restore's checks). */
export interface BackupHeader {
  format: typeof backup_format;
  version: number;
  /** index/term: the Raft entry the image is the state after; revision: the store's revision there. */
  index: number;
  term: number;
  revision: number;
  keys: number;
  /** kv_hash: the state's content hash (what `qklzl check` and /status kv_hash report at that index). */
  kv_hash: string;
  image_bytes: number;
  cluster_id: string | null;
  node_id: number;
  created_at: string;
}

export function backupFail(why: string): never {
  throw new QklzlError("backup_corrupt", `backup file is invalid: ${why}`);
}

/** encodeBackupPreamble: magic, header length and header, the bytes before the image. */
export function encodeBackupPreamble(header: BackupHeader): Uint8Array {
  assert(Number.isSafeInteger(header.image_bytes) && header.image_bytes > 0, "backup: an image has bytes");
  const json = new TextEncoder().encode(JSON.stringify(header));
  assert(json.length <= backup_header_bytes_max, "backup: header within its bound");
  const out = new Uint8Array(backup_magic.length + 4 + json.length);
  out.set(backup_magic, 0);
  new DataView(out.buffer).setUint32(backup_magic.length, json.length);
  out.set(json, backup_magic.length + 4);
  return out;
}

/** backupPadding: zero bytes after the image so that preamble + image + padding is a multiple of 512. */
export function backupPadding(imageOffset: number, imageBytes: number): number {
  return (backup_align_bytes - ((imageOffset + imageBytes) % backup_align_bytes)) % backup_align_bytes;
}

/** backupFileBytes: the size of the whole file for a header (progress, gRPC remaining_bytes). */
export function backupFileBytes(header: BackupHeader): number {
  const preamble = encodeBackupPreamble(header).length;
  return preamble + header.image_bytes + backupPadding(preamble, header.image_bytes) + backup_checksum_bytes;
}

/**
 * parseBackupPreamble reads magic and header from the first bytes of a file; returns the header and where the
 * image starts. Every field is checked: a file that is not a backup fails here, before any hashing.
 */
export function parseBackupPreamble(prefix: Uint8Array): { header: BackupHeader; imageOffset: number } {
  if (prefix.length < backup_magic.length + 4) backupFail(`${prefix.length} bytes is shorter than a backup preamble`);
  for (let i = 0; i < backup_magic.length; i++) if (prefix[i] !== backup_magic[i]) backupFail("not a qklzl backup (bad magic)");
  const length = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(backup_magic.length);
  const start = backup_magic.length + 4;
  if (length > backup_header_bytes_max || start + length > prefix.length) backupFail(`header of ${length} bytes runs past the file`);
  let header: Partial<BackupHeader>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(prefix.subarray(start, start + length)));
  } catch (error) {
    backupFail(`header is not JSON (${String(error)})`);
  }
  if (header?.format !== backup_format) backupFail("header format is not qklzl-backup");
  if (header.version !== backup_format_version) backupFail(`unsupported backup version ${String(header.version)}`);
  for (const field of ["index", "term", "revision", "keys", "image_bytes", "node_id"] as const) {
    if (!Number.isSafeInteger(header[field]) || (header[field] as number) < 0) backupFail(`bad header field ${field}`);
  }
  if (typeof header.kv_hash !== "string" || !/^[0-9a-f]{16}$/.test(header.kv_hash)) backupFail("bad header field kv_hash");
  if (header.image_bytes! <= 0) backupFail("header names an empty image");
  return { header: header as BackupHeader, imageOffset: start + length };
}

/** VerifiedBackup: a checked file: header, image and the sha256 its trailer holds (hex). */
export interface VerifiedBackup {
  header: BackupHeader;
  image: Uint8Array;
  sha256: string;
  size: number;
}

/**
 * verifyBackup checks a whole file: preamble, length (preamble + image + 32 bytes exactly) and the trailing
 * sha256 against the bytes before it. Any mismatch is backup_corrupt naming what differs.
 */
export function verifyBackup(file: Uint8Array): VerifiedBackup {
  const { header, imageOffset } = parseBackupPreamble(file);
  const padding = backupPadding(imageOffset, header.image_bytes);
  const expected = imageOffset + header.image_bytes + padding + backup_checksum_bytes;
  if (file.length !== expected) backupFail(`file is ${file.length} bytes, its header promises ${expected} (truncated or extended)`);
  const body = file.subarray(0, file.length - backup_checksum_bytes);
  if (body.subarray(imageOffset + header.image_bytes).some((byte) => byte !== 0)) backupFail("padding after the image is not zero");
  const actual = createHash("sha256").update(body).digest("hex");
  const stored = Buffer.from(file.subarray(file.length - backup_checksum_bytes)).toString("hex");
  if (actual !== stored) backupFail(`sha256 mismatch: the file's bytes hash to ${actual}, its trailer says ${stored}`);
  return { header, image: file.subarray(imageOffset, imageOffset + header.image_bytes), sha256: stored, size: file.length };
}
