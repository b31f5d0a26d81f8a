import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { QklzlError } from "../../shared/errors.ts";
import { type BackupHeader, backup_checksum_bytes, backup_header_bytes_max, backupFail, backupPadding, parseBackupPreamble } from "./format.ts";

const read_chunk_bytes = 1024 * 1024;

export interface BackupFileSummary {
  header: BackupHeader;
  size: number;
  sha256: string;
}

/**
 * verifyBackupFile checks a backup file on disk in pieces (bounded memory, whatever its size): preamble,
 * exact length, and the trailing sha256 over every byte before it. backup_corrupt names what is wrong.
 */
export function verifyBackupFile(file: string): BackupFileSummary {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (error) {
    throw new QklzlError("bad_request", `cannot open backup ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const prefix = Buffer.alloc(Math.min(size, backup_header_bytes_max + 16));
    fs.readSync(fd, prefix, 0, prefix.length, 0);
    const { header, imageOffset } = parseBackupPreamble(prefix);
    const expected = imageOffset + header.image_bytes + backupPadding(imageOffset, header.image_bytes) + backup_checksum_bytes;
    if (size !== expected) backupFail(`${file} is ${size} bytes, its header promises ${expected} (truncated or extended)`);
    const sha = createHash("sha256");
    const buf = Buffer.alloc(read_chunk_bytes);
    const body = size - backup_checksum_bytes;
    for (let at = 0; at < body; ) {
      const got = fs.readSync(fd, buf, 0, Math.min(buf.length, body - at), at);
      if (got <= 0) backupFail(`${file} ended at ${at} while being read`);
      sha.update(buf.subarray(0, got));
      at += got;
    }
    const trailer = Buffer.alloc(backup_checksum_bytes);
    fs.readSync(fd, trailer, 0, backup_checksum_bytes, body);
    const digest = sha.digest("hex");
    if (digest !== trailer.toString("hex")) backupFail(`sha256 mismatch in ${file}: its bytes hash to ${digest}, its trailer says ${trailer.toString("hex")}`);
    return { header, size, sha256: digest };
  } finally {
    fs.closeSync(fd);
  }
}
