// Small durable-file helpers on node:fs (Bun.write has no fsync), for files outside the StorageFs seam (meta.json).
import * as fs from "node:fs";
import * as path from "node:path";
import { nodeFs } from "./file_system.ts";

/** fsyncDir makes renames, creations and unlinks inside `dir` durable. */
export function fsyncDir(dir: string): void {
  nodeFs.fsyncDir(dir);
}

/** fsyncDirAsync is fsyncDir on the thread pool (a directory fsync can take milliseconds under load). */
export function fsyncDirAsync(dir: string): Promise<void> {
  return nodeFs.fsyncDirAsync(dir);
}

/** writeAll writes every byte of `buf` (writeSync may write less than asked). */
export function writeAll(fd: number, buf: Uint8Array): void {
  nodeFs.writeAll(fd, buf);
}

/** writeFileAtomic publishes `target` whole or not at all: tmp + fsync + rename + fsync of the directory. */
export function writeFileAtomic(target: string, chunks: Uint8Array[]): void {
  const tmp = `${target}.tmp`;
  const fd = fs.openSync(tmp, "w");
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, target);
  fsyncDir(path.dirname(target));
}
