// ENOSPC through the StorageFs seam (issue 15, Guardrails): a write the full disk refuses answers no_space and
// changes nothing (the log stays usable and the same save succeeds once there is space); a segment that cannot
// be created leaves no file; a snapshot that does not fit publishes nothing; a failed fsync stays fatal.
import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { isQklzlError } from "../../src/shared/errors.ts";
import { isFsyncFailure, nodeFs, openStorage, type FileStorage, type StorageFs } from "../../src/storage/index.ts";
import { entryOk, normal, range, segments, tempDir } from "./helpers.ts";

const dirs: string[] = [];
const open: FileStorage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function enospc(): Error {
  return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28 });
}

/** FullDisk: node:fs, except that while `full` every write (and file creation) fails with ENOSPC after `partial` bytes. */
class FullDisk {
  full = false;
  /** partial: bytes a refused write still puts in the file before failing (a torn tail the WAL must cut). */
  partial = 5;
  fsyncFails = false;
  readonly files: StorageFs = {
    ...nodeFs,
    writeAll: (fd, buf) => {
      if (!this.full) return nodeFs.writeAll(fd, buf);
      nodeFs.writeAll(fd, buf.subarray(0, Math.min(this.partial, buf.byteLength)));
      throw enospc();
    },
    writeAllAt: (fd, buf, position) => {
      if (!this.full) return nodeFs.writeAllAt(fd, buf, position);
      nodeFs.writeAllAt(fd, buf.subarray(0, Math.min(this.partial, buf.byteLength)), position);
      throw enospc();
    },
    fdatasyncAsync: (fd, done) => (this.fsyncFails ? queueMicrotask(() => done(Object.assign(new Error("EIO"), { code: "EIO" }))) : nodeFs.fdatasyncAsync(fd, done)),
    openForWrite: async (file) => {
      const handle = await nodeFs.openForWrite(file);
      return {
        write: async (buf, position) => {
          if (this.full) throw enospc();
          await handle.write(buf, position);
        },
        sync: async () => {
          if (this.fsyncFails) throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
          await handle.sync();
        },
        close: () => handle.close(),
      };
    },
  };
}

async function openOn(disk: FullDisk, dir: string, segmentBytes = 1 << 20): Promise<FileStorage> {
  const s = await openStorage({ dir, nodeId: 1, segmentBytes, files: disk.files });
  open.push(s);
  return s;
}

function fresh(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return isQklzlError(error) ? error.code : String(error);
  }
}

describe("ENOSPC through the StorageFs seam", () => {
  test("a refused append answers no_space, leaves the log as it was, and the same save succeeds later; a reopen reads it all", async () => {
    const disk = new FullDisk();
    const dir = fresh();
    const s = await openOn(disk, dir);
    await s.log.save(range(1, 5, 1), { term: 1, vote: 1, commit: 5 });
    disk.full = true;
    const batch = range(6, 8, 1);
    expect(await code(s.log.save(batch, { term: 1, vote: 1, commit: 8 }))).toBe("no_space");
    expect(s.log.lastIndex()).toBe(5);
    expect(s.log.hardState().commit).toBe(5);
    expect(await code(s.log.save(batch, null))).toBe("no_space");
    disk.full = false;
    await s.log.save(batch, { term: 1, vote: 1, commit: 8 });
    expect(s.log.lastIndex()).toBe(8);
    await s.close();
    const again = await openOn(new FullDisk(), dir);
    expect(again.log.tornBytesAtOpen ?? 0).toBe(0);
    expect(again.log.lastIndex()).toBe(8);
    expect(again.log.entries(1, 9, Number.MAX_SAFE_INTEGER).every(entryOk)).toBe(true);
    expect(again.log.hardState().commit).toBe(8);
  });

  test("a segment the disk cannot hold is not created (no file left); the active one takes the save once there is space", async () => {
    const disk = new FullDisk();
    const dir = fresh();
    const s = await openOn(disk, dir, 4096);
    await s.log.save([normal(1, 1, 5000)], { term: 1, vote: 1, commit: 1 });
    const before = segments(dir);
    disk.full = true;
    expect(await code(s.log.save([normal(2, 1)], null))).toBe("no_space");
    expect(segments(dir)).toEqual(before);
    expect(fs.readdirSync(path.join(dir, "wal")).some((name) => name.endsWith(".tmp"))).toBe(false);
    disk.full = false;
    await s.log.save([normal(2, 1)], null);
    expect(segments(dir).length).toBe(before.length + 1);
    expect(s.log.lastIndex()).toBe(2);
  });

  test("a snapshot that does not fit publishes nothing and answers no_space; the log goes on", async () => {
    const disk = new FullDisk();
    const dir = fresh();
    const s = await openOn(disk, dir);
    await s.log.save(range(1, 3, 1), { term: 1, vote: 1, commit: 3 });
    disk.full = true;
    const meta = { index: 3, term: 1, conf: { members: [{ id: 1, role: "voter" as const, raftAddr: "a", httpAddr: "b" }] } };
    expect(await code(s.snapshots.save(meta, new Uint8Array(10_000)))).toBe("no_space");
    expect(s.snapshots.latestMeta()).toBeNull();
    expect(fs.readdirSync(path.join(dir, "snap"))).toEqual([]);
    disk.full = false;
    await s.log.save(range(4, 4, 1), null);
    await s.snapshots.save(meta, new Uint8Array(10_000));
    expect(s.snapshots.latestMeta()?.index).toBe(3);
  });

  test("a failed fsync stays fatal: the WAL is unusable after it, and a snapshot's is marked for the node to stop", async () => {
    const disk = new FullDisk();
    const s = await openOn(disk, fresh());
    await s.log.save(range(1, 2, 1), null);
    disk.fsyncFails = true;
    expect(await code(s.log.save(range(3, 3, 1), null))).toBe("internal");
    disk.fsyncFails = false;
    expect(await code(s.log.save(range(4, 4, 1), null))).toBe("internal");
    const other = await openOn(disk, fresh());
    disk.fsyncFails = true;
    const meta = { index: 0, term: 0, conf: { members: [] } };
    const failed = await other.snapshots.save({ ...meta, index: 1, term: 1 }, new Uint8Array(8)).then(
      () => null,
      (error: unknown) => error,
    );
    expect(isFsyncFailure(failed)).toBe(true);
  });
});
