// recoverWal scans every segment at open, verifies every record and rebuilds the in-memory log.
// The last segment is preallocated (wal.ts): zeros after its last record are its end, nothing to cut.
// A bad record at the very end of the last segment (nothing valid after it) is a torn write from a crash:
// it is cut off with a warning. Anything else that fails verification is corruption: refuse to start.
import * as path from "node:path";
import { consola } from "consola";
import { QklzlError } from "../shared/errors.ts";
import type { StorageFs } from "./file_system.ts";
import { MemLog } from "./mem_log.ts";
import { readRecord } from "./record.ts";
import { segment_header_bytes, decodeSegmentHeader, parseSegmentName, segmentPath } from "./segment.ts";

/** SegmentInfo: what compaction needs to know about one segment file. */
export interface SegmentInfo {
  seq: number;
  path: string;
  size: number;
  /** minEntry/maxEntry: lowest and highest entry index written into this segment; 0 when none. */
  minEntry: number;
  maxEntry: number;
}

export interface RecoveredWal {
  mem: MemLog;
  segments: SegmentInfo[];
  /** tornBytes: bytes cut off the end of the last segment (0 when the log ended cleanly). */
  tornBytes: number;
}

/**
 * wipeRemedy: what an operator does with a data directory qklzl cannot use. The wiped node comes back as a new
 * incarnation, which the cluster refuses as the member it was (it lost that member's votes and entries): the
 * member is removed first, then the node joins anew and is promoted once caught up.
 */
export function wipeRemedy(dataDir: string): string {
  return (
    `Remedy: stop this node; run \`qklzl leave N\` (N: this node's id) against a live member; wipe the data directory ` +
    `(${dataDir}); start the node again with -join ADDR (a live member): it joins as a new learner, receives a ` +
    `snapshot from the leader and becomes a voter once caught up.`
  );
}

export function corruptError(dataDir: string, file: string, offset: number, reason: string): QklzlError {
  return new QklzlError(
    "storage_corrupt",
    `storage corrupt: ${file} at offset ${offset}: ${reason}. qklzl refuses to serve data from a corrupted log. ` +
      wipeRemedy(dataDir),
    { file, offset },
  );
}

export function noteEntry(info: SegmentInfo, index: number): void {
  if (info.minEntry === 0 || index < info.minEntry) info.minEntry = index;
  if (index > info.maxEntry) info.maxEntry = index;
}

/** listSegments returns the sequence numbers of the segment files in walDir, ascending; stray tmp files are removed. */
export function listSegments(files: StorageFs, walDir: string): number[] {
  const seqs: number[] = [];
  for (const name of files.readdir(walDir)) {
    if (name.endsWith(".tmp")) {
      files.rm(path.join(walDir, name));
      continue;
    }
    const seq = parseSegmentName(name);
    if (seq !== null) seqs.push(seq);
  }
  return seqs.sort((a, b) => a - b);
}

export interface RecoverWalOptions {
  files: StorageFs;
  walDir: string;
  /** dataDir is named in corruption messages. */
  dataDir: string;
}

export function recoverWal(options: RecoverWalOptions): RecoveredWal {
  const { files, walDir, dataDir } = options;
  const seqs = listSegments(files, walDir);
  const mem = new MemLog();
  const segments: SegmentInfo[] = [];
  let tornBytes = 0;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!;
    const file = segmentPath(walDir, seq);
    if (i > 0 && seq !== seqs[i - 1]! + 1) {
      throw corruptError(dataDir, file, 0, `segment ${seqs[i - 1]! + 1} is missing before it`);
    }
    const last = i === seqs.length - 1;
    const info: SegmentInfo = { seq, path: file, size: 0, minEntry: 0, maxEntry: 0 };
    const end = scanSegment(files, mem, info, { last, dataDir });
    tornBytes += end.torn;
    segments.push(info);
  }
  const last = segments[segments.length - 1];
  const problem = mem.invariantProblem();
  if (last !== undefined && problem !== null) throw corruptError(dataDir, last.path, last.size, problem);
  return { mem, segments, tornBytes };
}

function scanSegment(files: StorageFs, mem: MemLog, info: SegmentInfo, where: { last: boolean; dataDir: string }): { torn: number } {
  const { last, dataDir } = where;
  const buf = files.readFile(info.path);
  const header = decodeSegmentHeader(buf);
  if (typeof header === "string") throw corruptError(dataDir, info.path, 0, header);
  if (header.seq !== info.seq) throw corruptError(dataDir, info.path, 16, `header names segment ${header.seq}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let offset = segment_header_bytes;
  while (offset < buf.byteLength) {
    const result = readRecord(buf, view, offset);
    if (!result.ok) {
      if (!last) throw corruptError(dataDir, info.path, offset, `${result.reason} in a sealed segment`);
      // A zero-length record with a zero CRC never verifies (the CRC covers the type byte), so zeros are no record.
      const written = endOfNonZero(buf, offset);
      if (written === offset) {
        info.size = offset;
        return { torn: 0 };
      }
      const valid = findValidRecordAfter(buf, view, offset, written);
      if (valid !== null) {
        throw corruptError(dataDir, info.path, offset, `${result.reason}, followed by a valid record at offset ${valid}`);
      }
      // What was dropped: the bytes up to where the preallocation's zeros begin.
      const torn = written - offset;
      truncateFile(files, info.path, offset);
      consola.warn(`[storage] torn tail in ${info.path}: dropped ${torn} bytes at offset ${offset} (${result.reason})`);
      info.size = offset;
      return { torn };
    }
    const record = result.record;
    if (record.type === "entry") {
      const problem = mem.appendOne(record.entry);
      if (problem !== null) throw corruptError(dataDir, info.path, offset, problem);
      noteEntry(info, record.entry.index);
    } else if (record.type === "hard_state") {
      mem.hs = record.hardState;
    } else {
      mem.applySnapshot(record.snapshot);
    }
    offset = result.next;
  }
  info.size = offset;
  return { torn: 0 };
}

/**
 * findValidRecordAfter looks for any verifiable record past a bad one (starting before `end`, where the zeros of the
 * preallocation begin: a record there would be all zeros): its presence means corruption, not a torn tail.
 */
function findValidRecordAfter(buf: Uint8Array, view: DataView, bad: number, end: number): number | null {
  for (let offset = bad + 1; offset < end; offset++) {
    if (readRecord(buf, view, offset).ok) return offset;
  }
  return null;
}

/** endOfNonZero: the offset just past the last non-zero byte at or after `from` (from itself when all are zero). */
export function endOfNonZero(buf: Uint8Array, from: number): number {
  const chunk = 64 * 1024;
  const zeros = new Uint8Array(chunk);
  let end = buf.byteLength;
  // Whole chunks from the end by memcmp (Buffer.compare): a 64 MiB preallocated tail is read in milliseconds.
  while (end - from >= chunk && Buffer.compare(buf.subarray(end - chunk, end), zeros) === 0) end -= chunk;
  while (end > from && buf[end - 1] === 0) end--;
  return end;
}

function truncateFile(files: StorageFs, file: string, size: number): void {
  const fd = files.open(file, "r+");
  try {
    files.ftruncate(fd, size);
    files.fsync(fd);
  } finally {
    files.close(fd);
  }
}
