// Small durable-file helpers on node:fs (Bun.write has no fsync).
import * as fs from "node:fs";
import * as path from "node:path";

/** fsyncDir makes renames, creations and unlinks inside `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * fsyncDirAsync is fsyncDir on the thread pool, for background work (snapshots, compaction): a directory
 * fsync commits the file system journal and can take milliseconds under load, too long to block the loop.
 */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** writeAll writes every byte of `buf` (writeSync may write less than asked). */
export function writeAll(fd: number, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.byteLength) done += fs.writeSync(fd, buf, done, buf.byteLength - done);
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
