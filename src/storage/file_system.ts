// StorageFs is the file layer under wal/ and snap/: the few calls the WAL, recovery and the snapshot store make.
// Production uses nodeFs (thin calls into node:fs, nothing added); the storage tests inject a power-loss model
// (test/storage/power_fs.ts) that keeps only what was fsynced when the power is cut.
// meta.json goes through it too (dir_meta.ts); only LOCK stays on node:fs directly (dir_lock.ts): a process lock,
// not data.
import * as fs from "node:fs";

/** StorageFileHandle: a file opened for positional async writes (snapshot images, off the event loop). */
export interface StorageFileHandle {
  /** write writes every byte of buf at position. */
  write(buf: Uint8Array, position: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface StorageFs {
  /** mkdirp creates dir and any missing parents; returns the first directory it created, undefined if dir existed. */
  mkdirp(dir: string): string | undefined;
  readdir(dir: string): string[];
  readFile(file: string): Uint8Array;
  readFileAsync(file: string): Promise<Uint8Array>;
  /** open: "a" appends (creating the file), "w" creates or truncates, "r+" opens an existing file for writing, "r" for reading. */
  open(file: string, flags: "a" | "w" | "r+" | "r"): number;
  /**
   * writeAll writes every byte of buf at the fd's position (writeSync may write less than asked). It keeps no
   * reference to buf once it returns: the WAL writes its next records into the same buffer.
   */
  writeAll(fd: number, buf: Uint8Array): void;
  /** writeAllAt writes every byte of buf at `position` of the file (pwrite; the fd's position is not used). */
  writeAllAt(fd: number, buf: Uint8Array, position: number): void;
  fsync(fd: number): void;
  fdatasync(fd: number): void;
  /** fdatasyncAsync runs fdatasync on the thread pool; done gets null or the error. */
  fdatasyncAsync(fd: number, done: (error: Error | null) => void): void;
  ftruncate(fd: number, size: number): void;
  close(fd: number): void;
  rename(from: string, to: string): void;
  renameAsync(from: string, to: string): Promise<void>;
  /** rm removes a file; a missing file is not an error. */
  rm(file: string): void;
  rmAsync(file: string): Promise<void>;
  /** rmdir removes an empty directory (restore clears an interrupted staging directory with it). */
  rmdir(dir: string): void;
  /** fsyncDir makes creations, renames and unlinks inside dir durable. */
  fsyncDir(dir: string): void;
  /** fsyncDirAsync is fsyncDir on the thread pool: a directory fsync commits the journal and can take milliseconds. */
  fsyncDirAsync(dir: string): Promise<void>;
  /** openForWrite creates or truncates file for positional async writes. */
  openForWrite(file: string): Promise<StorageFileHandle>;
}

export const nodeFs: StorageFs = {
  mkdirp: (dir) => fs.mkdirSync(dir, { recursive: true }),
  readdir: (dir) => fs.readdirSync(dir),
  readFile: (file) => fs.readFileSync(file),
  readFileAsync: (file) => fs.promises.readFile(file),
  open: (file, flags) => fs.openSync(file, flags),
  writeAll(fd, buf) {
    let done = 0;
    while (done < buf.byteLength) done += fs.writeSync(fd, buf, done, buf.byteLength - done);
  },
  writeAllAt(fd, buf, position) {
    let done = 0;
    while (done < buf.byteLength) done += fs.writeSync(fd, buf, done, buf.byteLength - done, position + done);
  },
  fsync: (fd) => fs.fsyncSync(fd),
  fdatasync: (fd) => fs.fdatasyncSync(fd),
  fdatasyncAsync: (fd, done) => fs.fdatasync(fd, (error) => done(error ?? null)),
  ftruncate: (fd, size) => fs.ftruncateSync(fd, size),
  close: (fd) => fs.closeSync(fd),
  rename: (from, to) => fs.renameSync(from, to),
  renameAsync: (from, to) => fs.promises.rename(from, to),
  rm: (file) => fs.rmSync(file, { force: true }),
  rmAsync: (file) => fs.promises.rm(file, { force: true }),
  rmdir: (dir) => fs.rmdirSync(dir),
  fsyncDir(dir) {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  async fsyncDirAsync(dir) {
    const handle = await fs.promises.open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  async openForWrite(file) {
    const handle = await fs.promises.open(file, "w");
    return {
      async write(buf, position) {
        let done = 0;
        while (done < buf.byteLength) done += (await handle.write(buf, done, buf.byteLength - done, position + done)).bytesWritten;
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  },
};
