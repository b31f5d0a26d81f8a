// The WAL through openStorage: round-trips, truncation and compaction across segments, group commit,
// torn tails cut at every byte offset, bit flips refused as corruption.
import { endOfNonZero } from "../../src/storage/recover.ts";
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import { consola } from "consola";
import * as fs from "node:fs";
import { nodeFs, openStorage, type FileStorage } from "../../src/storage/index.ts";
import { isQklzlError } from "../../src/shared/errors.ts";
import type { Entry, SnapshotMeta } from "../../src/raft/types.ts";
import { entryOk, fileSize, normal, range, recordsEndOf, segments, tempDir } from "./helpers.ts";

const dirs: string[] = [];
const open: FileStorage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function openDir(dir: string, segmentBytes = 1 << 20): Promise<FileStorage> {
  const s = await openStorage({ dir, nodeId: 1, segmentBytes });
  open.push(s);
  return s;
}

async function reopen(s: FileStorage, segmentBytes = 1 << 20): Promise<FileStorage> {
  await s.close();
  return openDir(s.dir, segmentBytes);
}

function fresh(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

function metaAt(index: number, term: number): SnapshotMeta {
  return { index, term, conf: { members: [{ id: 1, role: "voter", raftAddr: "a", httpAddr: "b" }] } };
}

function terms(s: FileStorage, lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = lo; i <= hi; i++) out.push(s.log.term(i) ?? -1);
  return out;
}

describe("wal basics", () => {
  test("a fresh directory is an empty log at index 0", async () => {
    const s = await openDir(fresh());
    expect(s.fresh).toBe(true);
    expect(s.log.firstIndex()).toBe(1);
    expect(s.log.lastIndex()).toBe(0);
    expect(s.log.term(0)).toBe(0);
    expect(s.log.term(1)).toBeUndefined();
    expect(s.log.hardState()).toEqual({ term: 0, vote: 0, commit: 0 });
    expect(s.log.snapshotMeta().index).toBe(0);
  });

  test("entries of every kind and the hard state survive a reopen", async () => {
    let s = await openDir(fresh());
    const conf: Entry = { kind: "conf", index: 3, term: 2, change: { type: "promote", id: 2, raftAddr: "r", httpAddr: "h" } };
    const written: Entry[] = [normal(1, 1), { kind: "noop", index: 2, term: 2 }, conf, normal(4, 2, 1000)];
    await s.log.save(written.slice(0, 2), { term: 2, vote: 1, commit: 1 });
    await s.log.save(written.slice(2), null);
    // Visible at once, before and after the sync.
    expect(s.log.lastIndex()).toBe(4);
    s = await reopen(s);
    expect(s.fresh).toBe(false);
    expect(s.log.hardState()).toEqual({ term: 2, vote: 1, commit: 1 });
    const back = s.log.entries(1, 5, Infinity);
    expect(back.map((e) => [e.index, e.term, e.kind])).toEqual(written.map((e) => [e.index, e.term, e.kind]));
    expect(back.every(entryOk)).toBe(true);
    expect(back[2]).toEqual(conf);
  });

  test("saves of every size through the reused record buffer read back exactly after a reopen", async () => {
    // Large, then smaller (the buffer's stale tail must not leak into a record), then larger than it has grown
    // to, then one batch past its cap (a buffer of its own): each record is checked by its CRC on reopen.
    let s = await openDir(fresh(), 64 << 20);
    const sizes = [[16384, 20], [100, 3], [200_000, 2], [16384, 1], [3 << 20, 3], [50, 1]] as const;
    let next = 1;
    for (const [size, count] of sizes) {
      await s.log.save(range(next, next + count - 1, 1, size), null);
      next += count;
    }
    s = await reopen(s, 64 << 20);
    const back = s.log.entries(1, next, Infinity);
    expect(back.length).toBe(next - 1);
    expect(back.every(entryOk)).toBe(true);
    expect(back.map((e) => (e.kind === "normal" ? e.data.byteLength : -1))).toEqual(sizes.flatMap(([size, count]) => Array<number>(count).fill(size)));
  });

  test("entries(lo, hi, bytesMax) respects the byte budget but returns at least one", async () => {
    const s = await openDir(fresh());
    await s.log.save(range(1, 10, 1, 100), null);
    expect(s.log.entries(1, 11, 250).length).toBe(2);
    expect(s.log.entries(1, 11, 10).length).toBe(1);
    expect(s.log.entries(3, 6, Infinity).map((e) => e.index)).toEqual([3, 4, 5]);
    expect(() => s.log.entries(0, 3, Infinity)).toThrow();
  });

  test("saves resolve in call order and share syncs (group commit)", async () => {
    const s = await openDir(fresh());
    const order: number[] = [];
    const promises: Promise<void>[] = [];
    for (let i = 1; i <= 64; i++) promises.push(s.log.save([normal(i, 1)], { term: 1, vote: 0, commit: 0 }).then(() => void order.push(i)));
    await Promise.all(promises);
    expect(order).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(s.log.syncs).toBeLessThan(64);
    expect(s.log.syncs).toBeGreaterThanOrEqual(1);
  });

  test("close waits for saves already made durable-pending; later calls are refused", async () => {
    const dir = fresh();
    const s = await openStorage({ dir, nodeId: 1 });
    const saves = [s.log.save(range(1, 3, 1), null), s.log.save(range(4, 6, 1), { term: 1, vote: 1, commit: 2 })];
    await s.close();
    await Promise.all(saves);
    await expect(s.log.save(range(7, 7, 1), null)).rejects.toThrow(/closed/);
    const r = await openDir(dir);
    expect([r.log.lastIndex(), r.log.hardState().commit]).toEqual([6, 2]);
  });

  test("a failed fdatasync makes the log unusable: that save and every later call reject; acked data survives", async () => {
    const dir = fresh();
    let failNext = false;
    const s = await openStorage({ dir, nodeId: 1, syncFault: () => (failNext ? new Error("EIO: injected") : null) });
    await s.log.save(range(1, 5, 1), { term: 1, vote: 1, commit: 3 });
    failNext = true;
    await expect(s.log.save(range(6, 8, 1), null)).rejects.toThrow(/unusable until restart: EIO: injected/);
    failNext = false;
    await expect(s.log.save(range(9, 9, 1), null)).rejects.toThrow(/unusable/);
    await expect(s.log.compact(0)).rejects.toThrow(/unusable/);
    await s.close();
    const r = await openDir(dir);
    // 6..8 were written before the failed sync: they may or may not be there, 1..5 must be.
    expect(r.log.lastIndex()).toBeGreaterThanOrEqual(5);
    expect(r.log.hardState()).toEqual({ term: 1, vote: 1, commit: 3 });
    expect(r.log.entries(1, 6, Infinity).every(entryOk)).toBe(true);
  });

  test("sync mode gives the same results", async () => {
    const dir = fresh();
    const s = await openStorage({ dir, nodeId: 1, syncMode: "sync" });
    open.push(s);
    await Promise.all([s.log.save(range(1, 5, 1), null), s.log.save(range(3, 4, 2), { term: 2, vote: 0, commit: 0 })]);
    const r = await reopen(s);
    expect(terms(r, 1, 5)).toEqual([1, 1, 2, 2, -1]);
  });
});

describe("inline sync (a follower's saves)", () => {
  test("setInlineSync(true) fsyncs on the calling thread, false goes back to the thread pool", async () => {
    const calls: string[] = [];
    const files = { ...nodeFs };
    files.fdatasync = (fd) => {
      calls.push("inline");
      nodeFs.fdatasync(fd);
    };
    files.fdatasyncAsync = (fd, done) => {
      calls.push("pool");
      nodeFs.fdatasyncAsync(fd, done);
    };
    const s = await openStorage({ dir: fresh(), nodeId: 1, files });
    open.push(s);
    await s.log.save(range(1, 2, 1), null);
    expect(calls).toEqual(["pool"]);
    s.log.setInlineSync(true);
    const saved = s.log.save(range(3, 4, 1), { term: 1, vote: 1, commit: 2 });
    await Promise.resolve(); // the flush is a queued microtask: inline, it has synced by now
    expect(calls).toEqual(["pool", "inline"]);
    await saved;
    s.log.setInlineSync(false);
    await s.log.save(range(5, 5, 1), null);
    expect(calls).toEqual(["pool", "inline", "pool"]);
    const r = await reopen(s);
    expect(terms(r, 1, 6)).toEqual([1, 1, 1, 1, 1, -1]);
  });
});

describe("suffix truncation", () => {
  test("overwriting a tail across segment boundaries is durable", async () => {
    // ~100-byte records, 1 KiB segments: 200 entries span many segments.
    let s = await openDir(fresh(), 1024);
    for (let i = 1; i <= 200; i += 5) await s.log.save(range(i, i + 4, 1, 60), { term: 1, vote: 1, commit: 10 });
    for (let i = 201; i <= 260; i++) await s.log.save([normal(i, 1, 60)], null);
    const before = segments(s.dir).length;
    expect(before).toBeGreaterThan(10);
    // Truncate back into an older segment, replacing 150.. with a shorter term-2 suffix.
    await s.log.save(range(150, 155, 2, 60), { term: 2, vote: 2, commit: 10 });
    expect(s.log.lastIndex()).toBe(155);
    s = await reopen(s, 1024);
    expect(s.log.lastIndex()).toBe(155);
    expect(terms(s, 148, 156)).toEqual([1, 1, 2, 2, 2, 2, 2, 2, -1]);
    expect(s.log.entries(1, 156, Infinity).every(entryOk)).toBe(true);
    // Appending after the truncation keeps working, and survives again.
    await s.log.save(range(156, 170, 2, 60), null);
    s = await reopen(s, 1024);
    expect(s.log.lastIndex()).toBe(170);
    expect(terms(s, 155, 157)).toEqual([2, 2, 2]);
  });

  test("a gap or an overwrite below the first index is refused", async () => {
    const s = await openDir(fresh());
    await s.log.save(range(1, 5, 1), null);
    expect(() => s.log.save([normal(8, 1)], null)).toThrow();
    expect(s.log.lastIndex()).toBe(5);
  });
});

describe("compaction and snapshots in the log", () => {
  test("compact deletes whole covered segments only; the rest stays readable and survives a reopen", async () => {
    let s = await openDir(fresh(), 1024);
    for (let i = 1; i <= 300; i += 10) await s.log.save(range(i, i + 9, 1, 60), { term: 1, vote: 1, commit: i + 9 });
    const segsBefore = segments(s.dir).length;
    await s.snapshots.save(metaAt(250, 1), new Uint8Array([1, 2, 3]));
    expect(s.log.snapshotMeta().index).toBe(250);
    expect(s.log.firstIndex()).toBe(1);
    await s.log.compact(200);
    const first = s.log.firstIndex();
    expect(segments(s.dir).length).toBeLessThan(segsBefore);
    expect(first).toBeGreaterThan(150);
    expect(first).toBeLessThanOrEqual(201);
    expect(s.log.term(first - 1)).toBeUndefined();
    expect(s.log.term(250)).toBe(1);
    expect(s.log.entries(first, 301, Infinity).length).toBe(301 - first);
    s = await reopen(s, 1024);
    expect(s.log.firstIndex()).toBe(first);
    expect(s.log.lastIndex()).toBe(300);
    expect(s.log.snapshotMeta()).toEqual(metaAt(250, 1));
    expect(s.log.hardState().commit).toBe(300);
    expect(s.log.entries(first, 301, Infinity).every(entryOk)).toBe(true);
  });

  test("compaction never deletes the segment holding entries above the index", async () => {
    let s = await openDir(fresh(), 1 << 20);
    await s.log.save(range(1, 50, 1), null);
    await s.snapshots.save(metaAt(40, 1), new Uint8Array(0));
    await s.log.compact(40);
    expect(s.log.firstIndex()).toBe(1);
    expect(segments(s.dir).length).toBe(1);
    s = await reopen(s);
    expect(s.log.lastIndex()).toBe(50);
  });

  test("release drops covered entries from memory only: files stay, appends go on, a reopen reads them again", async () => {
    let s = await openDir(fresh(), 1 << 20);
    await s.log.save(range(1, 50, 1), null);
    await s.snapshots.save(metaAt(40, 1), new Uint8Array(0));
    expect(() => s.log.release(41)).toThrow(/beyond the snapshot index/);
    s.log.release(30);
    expect(s.log.firstIndex()).toBe(31);
    expect(s.log.term(30)).toBeUndefined();
    expect(s.log.entries(31, 51, Infinity).length).toBe(20);
    s.log.release(10); // already released: nothing to do
    expect(s.log.firstIndex()).toBe(31);
    await s.log.save(range(51, 60, 1), null);
    expect(s.log.lastIndex()).toBe(60);
    s.log.release(40);
    expect(s.log.firstIndex()).toBe(41);
    expect(segments(s.dir).length).toBe(1);
    s = await reopen(s);
    expect(s.log.firstIndex()).toBe(1);
    expect(s.log.lastIndex()).toBe(60);
    expect(s.log.entries(1, 61, Infinity).every(entryOk)).toBe(true);
  });

  test("release of everything up to the last entry leaves an empty log right after the snapshot", async () => {
    const s = await openDir(fresh());
    await s.log.save(range(1, 20, 1), null);
    await s.snapshots.save(metaAt(20, 1), new Uint8Array(0));
    s.log.release(20);
    expect([s.log.firstIndex(), s.log.lastIndex()]).toEqual([21, 20]);
    await s.log.save(range(21, 25, 1), null);
    expect(s.log.entries(21, 26, Infinity).length).toBe(5);
  });

  test("installSnapshot keeps the suffix after a matching entry", async () => {
    let s = await openDir(fresh());
    await s.log.save(range(1, 30, 1), null);
    // The node's order: publish the snapshot file, then install it in the log.
    await s.snapshots.save(metaAt(20, 1), new Uint8Array([1]));
    expect([s.log.firstIndex(), s.log.lastIndex(), s.log.snapshotMeta().index]).toEqual([1, 30, 20]);
    await s.log.installSnapshot(metaAt(20, 1));
    expect(s.log.firstIndex()).toBe(21);
    expect(s.log.lastIndex()).toBe(30);
    expect(s.log.term(20)).toBe(1);
    expect(s.log.term(19)).toBeUndefined();
    expect(() => s.log.entries(20, 25, Infinity)).toThrow();
    s = await reopen(s);
    expect([s.log.firstIndex(), s.log.lastIndex(), s.log.snapshotMeta().index]).toEqual([21, 30, 20]);
  });

  test("installSnapshot of a conflicting or longer history drops the whole log", async () => {
    let s = await openDir(fresh());
    await s.log.save(range(1, 30, 1), null);
    await s.snapshots.save(metaAt(25, 3), new Uint8Array([1]));
    expect([s.log.firstIndex(), s.log.lastIndex(), s.log.term(25)]).toEqual([26, 25, 3]);
    await s.log.installSnapshot(metaAt(25, 3));
    expect([s.log.firstIndex(), s.log.lastIndex(), s.log.term(25)]).toEqual([26, 25, 3]);
    await s.log.save(range(26, 28, 3), { term: 3, vote: 0, commit: 25 });
    await s.snapshots.save(metaAt(100, 4), new Uint8Array([2]));
    await s.log.installSnapshot(metaAt(100, 4));
    expect([s.log.firstIndex(), s.log.lastIndex(), s.log.term(100)]).toEqual([101, 100, 4]);
    await s.log.save([normal(101, 4)], null);
    s = await reopen(s);
    expect([s.log.firstIndex(), s.log.lastIndex(), s.log.term(100), s.log.term(101)]).toEqual([101, 101, 4, 4]);
  });

  test("a snapshot published before the log noted it (crash) is noted at open", async () => {
    const dir = fresh();
    let s = await openDir(dir);
    await s.log.save(range(1, 10, 1), null);
    s.snapshots.published = null; // as if the process died right after the rename
    await s.snapshots.save(metaAt(8, 1), new Uint8Array([7]));
    expect(s.log.snapshotMeta().index).toBe(0);
    s = await reopen(s);
    expect(s.log.snapshotMeta()).toEqual(metaAt(8, 1));
    expect(s.log.lastIndex()).toBe(10);
  });
});

/** writeLog: a 2-segment log whose last save is entry 40 + a hard state; returns the byte offsets around it. */
async function writeLog(dir: string): Promise<{ file: string; before: number; after: number; entryEnd: number }> {
  const s = await openStorage({ dir, nodeId: 1, segmentBytes: 1024 });
  for (let i = 1; i <= 39; i++) await s.log.save([normal(i, 1, 40)], { term: 1, vote: 1, commit: i - 1 });
  const segs = segments(dir);
  const file = segs[segs.length - 1]!;
  const before = recordsEndOf(file);
  await s.log.save([normal(40, 2, 40)], { term: 2, vote: 1, commit: 39 });
  const after = recordsEndOf(file);
  await s.close();
  expect(segments(dir).length).toBeGreaterThan(1);
  expect(segments(dir)[segments(dir).length - 1]).toBe(file);
  return { file, before, after, entryEnd: before + 9 + 16 + 40 };
}

describe("recovery from torn writes", () => {
  test("cutting the last save at every byte offset keeps exactly the fully written records", async () => {
    const dir = fresh();
    const { file, before, after, entryEnd } = await writeLog(dir);
    const original = fs.readFileSync(file);
    const segmentsWritten = segments(dir);
    expect(after - before).toBe(9 + 16 + 40 + 9 + 24);
    const warn = spyOn(consola, "warn").mockImplementation((() => {}) as never);
    try {
      for (let cut = before; cut <= after; cut++) {
        warn.mockClear();
        for (const extra of segments(dir)) if (!segmentsWritten.includes(extra)) fs.rmSync(extra);
        fs.writeFileSync(file, original.subarray(0, cut));
        const s = await openStorage({ dir, nodeId: 1, segmentBytes: 1024 });
        const entryWhole = cut >= entryEnd;
        const hsWhole = cut === after;
        expect(s.log.lastIndex()).toBe(entryWhole ? 40 : 39);
        expect(s.log.hardState()).toEqual(hsWhole ? { term: 2, vote: 1, commit: 39 } : { term: 1, vote: 1, commit: 38 });
        expect(s.log.entries(1, s.log.lastIndex() + 1, Infinity).every(entryOk)).toBe(true);
        // The torn bytes are gone from the file, so the next write starts on a record boundary (the rest of the
        // segment is preallocated again: zeros from there on).
        const kept = cut === after ? after : entryWhole ? entryEnd : before;
        expect(recordsEndOf(file)).toBe(kept);
        expect(fs.readFileSync(file).subarray(kept).every((byte) => byte === 0)).toBe(true);
        if (cut === kept) expect(warn).not.toHaveBeenCalled();
        else {
          // Dropped: the written bytes after the last whole record (zeros there read as the preallocation).
          const written = endOfNonZero(original.subarray(0, cut), kept);
          if (written === kept) expect(warn).not.toHaveBeenCalled();
          else expect(String(warn.mock.calls[0]?.[0])).toContain(`dropped ${written - kept} bytes at offset ${kept}`);
        }
        await s.log.save([normal(s.log.lastIndex() + 1, 3, 40)], null);
        await s.close();
        const again = await openStorage({ dir, nodeId: 1, segmentBytes: 1024 });
        expect(again.log.term(again.log.lastIndex())).toBe(3);
        await again.close();
      }
    } finally {
      warn.mockRestore();
    }
  });

  test("zeros after the last record are the preallocated end of the log: nothing is cut, nothing is logged", async () => {
    const dir = fresh();
    const { file, after } = await writeLog(dir);
    fs.appendFileSync(file, new Uint8Array(4096));
    const size = fileSize(file);
    const warn = spyOn(consola, "warn").mockImplementation((() => {}) as never);
    try {
      const s = await openDir(dir, 1024);
      expect(s.log.lastIndex()).toBe(40);
      expect(warn).not.toHaveBeenCalled();
      expect(fileSize(file)).toBe(size);
      // The segment is past segmentBytes: this save rolls, and the sealed segment is cut to its records.
      await s.log.save([normal(41, 2, 40)], null);
      await s.close();
      expect(fileSize(file)).toBe(after);
      const again = await openDir(dir, 1024);
      expect(again.log.lastIndex()).toBe(41);
    } finally {
      warn.mockRestore();
    }
  });

  test("small records land on zeros written 1 MiB ahead (no holes to allocate at sync); a large one extends the file sparsely", async () => {
    // Allocated bytes (st_blocks) show whether zeros were written or a hole was left. A filesystem that stores
    // written zeros as holes (compression: ZFS, btrfs) cannot show it: then the check is skipped.
    const probe = `${fresh()}/probe`;
    fs.writeFileSync(probe, new Uint8Array(1 << 20));
    if (fs.statSync(probe).blocks * 512 < 1 << 20) {
      console.warn("skipped: this filesystem stores written zeros as holes");
      return;
    }
    const allocated = (file: string) => fs.statSync(file).blocks * 512;
    const small = fresh();
    const s = await openDir(small, 8 << 20);
    for (let i = 1; i <= 10; i++) await s.log.save([normal(i, 1, 40)], { term: 1, vote: 1, commit: i - 1 });
    const [file] = segments(small);
    expect(recordsEndOf(file!)).toBeLessThan(4096);
    expect(allocated(file!)).toBeGreaterThanOrEqual(1 << 20);
    // Reopened, the zeros read as the end of the log, and the next save goes on from the last record.
    const again = await reopen(s, 8 << 20);
    expect(again.log.lastIndex()).toBe(10);
    await again.log.save([normal(11, 1, 40)], null);
    expect((await reopen(again, 8 << 20)).log.lastIndex()).toBe(11);

    const large = fresh();
    const l = await openDir(large, 8 << 20);
    await l.log.save([normal(1, 1, 200 * 1024)], { term: 1, vote: 1, commit: 0 });
    const [big] = segments(large);
    const end = recordsEndOf(big!);
    expect(allocated(big!)).toBeLessThan(end + 64 * 1024);
    expect(fileSize(big!)).toBeGreaterThan(end);
    // A small record after it fills zeros from the large one's end.
    await l.log.save([normal(2, 1, 40)], { term: 1, vote: 1, commit: 1 });
    expect(allocated(big!)).toBeGreaterThanOrEqual(end + (1 << 20));
  });

  test("the active segment is preallocated to segmentBytes; a sealed one ends at its last record", async () => {
    const dir = fresh();
    const s = await openDir(dir, 1024);
    // Save until the first roll: the new active segment then holds one save.
    for (let i = 1; segments(dir).length < 2; i++) await s.log.save([normal(i, 1, 40)], { term: 1, vote: 1, commit: i - 1 });
    const files = segments(dir);
    const active = files[files.length - 1]!;
    expect(fileSize(active)).toBe(1024);
    expect(recordsEndOf(active)).toBeLessThan(1024);
    for (const sealed of files.slice(0, -1)) {
      expect(fileSize(sealed)).toBe(recordsEndOf(sealed));
      expect(fileSize(sealed)).toBeGreaterThanOrEqual(1024);
    }
  });

  test("a bit flip in a middle record of the last segment is corruption, naming file, offset and remedy", async () => {
    const dir = fresh();
    const { file, before } = await writeLog(dir);
    const original = fs.readFileSync(file);
    // Flip each byte of the record just before the last save: valid records follow it.
    const recordStart = before - 33 - 65; // hard state (33) and entry (65) of save 39
    let refused = 0;
    for (let offset = recordStart; offset < before; offset++) {
      const damaged = Buffer.from(original);
      damaged[offset]! ^= 0x10;
      fs.writeFileSync(file, damaged);
      try {
        const s = await openStorage({ dir, nodeId: 1, segmentBytes: 1024 });
        await s.close();
      } catch (error) {
        expect(isQklzlError(error) && error.code === "storage_corrupt").toBe(true);
        const message = (error as Error).message;
        expect(message).toContain(file);
        expect(message).toMatch(/offset \d+/);
        expect(message).toContain("wipe");
        refused++;
      }
    }
    expect(refused).toBe(before - recordStart);
    // The damaged file was not "repaired" by cutting valid records off.
    expect(fileSize(file)).toBe(original.byteLength);
  });

  test("a bit flip in a sealed segment is corruption, even in its last record", async () => {
    const dir = fresh();
    await writeLog(dir);
    const sealed = segments(dir)[0]!;
    const original = fs.readFileSync(sealed);
    const damaged = Buffer.from(original);
    damaged[original.byteLength - 3]! ^= 0x01;
    fs.writeFileSync(sealed, damaged);
    const attempt = openStorage({ dir, nodeId: 1, segmentBytes: 1024 });
    await expect(attempt).rejects.toThrow(/storage corrupt: .*0000000000000001\.seg at offset \d+/);
  });

  test("a damaged segment header is corruption, also in the last segment", async () => {
    const dir = fresh();
    await writeLog(dir);
    const segs = segments(dir);
    const last = segs[segs.length - 1]!;
    const damaged = fs.readFileSync(last);
    damaged[20]! ^= 0x04; // inside the CRC-protected part of the header (sequence number)
    fs.writeFileSync(last, damaged);
    await expect(openStorage({ dir, nodeId: 1 })).rejects.toThrow(/header CRC mismatch/);
  });

  test("a missing segment in the middle is corruption", async () => {
    const dir = fresh();
    await writeLog(dir);
    const segs = segments(dir);
    expect(segs.length).toBeGreaterThan(2);
    fs.rmSync(segs[1]!);
    await expect(openStorage({ dir, nodeId: 1 })).rejects.toThrow(/missing/);
  });
});

describe("data directory", () => {
  test("a data directory created by open is made durable in its parent (each new level)", async () => {
    const parent = fresh();
    const dir = `${parent}/a/b`;
    const synced = spyOn(nodeFs, "fsyncDir");
    try {
      const s = await openDir(dir);
      expect(synced.mock.calls.map((c) => c[0])).toEqual(expect.arrayContaining([parent, `${parent}/a`]));
      await s.close();
      synced.mockClear();
      // An existing directory: nothing new to make durable above it.
      const again = await openDir(dir);
      expect(synced.mock.calls.map((c) => c[0])).not.toContain(parent);
      expect(synced.mock.calls.map((c) => c[0])).not.toContain(`${parent}/a`);
      await again.close();
    } finally {
      synced.mockRestore();
    }
  });

  test("a directory in use by a live process is refused; a stale LOCK (dead process) is taken over", async () => {
    const dir = fresh();
    const s = await openDir(dir);
    await expect(openStorage({ dir, nodeId: 1 })).rejects.toThrow(/in use by process \d+/);
    await s.close();
    expect(fs.existsSync(`${dir}/LOCK`)).toBe(false);
    // A crashed holder: its pid no longer runs.
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    fs.writeFileSync(`${dir}/LOCK`, `${gone.pid} 1\n`);
    const again = await openDir(dir);
    expect(again.log.lastIndex()).toBe(0);
    await again.close();
    // A recycled pid: alive, but started at another time than the holder did.
    fs.writeFileSync(`${dir}/LOCK`, `${process.pid} 1\n`);
    const third = await openDir(dir);
    await third.close();
  });

  test("another node id is refused; the cluster id is pinned once set", async () => {
    const dir = fresh();
    const s = await openDir(dir);
    expect(s.meta).toMatchObject({ nodeId: 1, clusterId: null });
    await s.setClusterId("c-1");
    await expect(s.setClusterId("c-2")).rejects.toThrow(/cluster c-1/);
    await s.close();
    await expect(openStorage({ dir, nodeId: 2 })).rejects.toThrow(/belongs to node 1, not node 2/);
    const again = await openDir(dir);
    expect(again.meta).toMatchObject({ nodeId: 1, clusterId: "c-1" });
  });
});
