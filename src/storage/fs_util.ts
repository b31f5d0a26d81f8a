// Small durable-file helpers (Bun.write has no fsync): on node:fs, or on the StorageFs seam given (meta.json).
import * as path from "node:path";
import { nodeFs, type StorageFs } from "./file_system.ts";

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
export function writeFileAtomic(target: string, chunks: Uint8Array[], files: StorageFs = nodeFs): void {
  const tmp = `${target}.tmp`;
  const fd = files.open(tmp, "w");
  try {
    for (const chunk of chunks) files.writeAll(fd, chunk);
    files.fsync(fd);
  } finally {
    files.close(fd);
  }
  files.rename(tmp, target);
  files.fsyncDir(path.dirname(target));
}
