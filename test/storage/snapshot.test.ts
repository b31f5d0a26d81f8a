// Snapshot store: atomic publication, retention, CRC checks with fallback, agreement with the log.
import { afterEach, describe, expect, spyOn, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { consola } from "consola";
import { openStorage, type FileStorage } from "../../src/storage/index.ts";
import { encodeSnapshotFile, snapshotFileName } from "../../src/storage/snapshot_store.ts";
import type { SnapshotMeta } from "../../src/raft/types.ts";
import { dataFor, range, tempDir } from "./helpers.ts";

const dirs: string[] = [];
const open: FileStorage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function openDir(dir: string, snapshotsRetained = 2): Promise<FileStorage> {
  const s = await openStorage({ dir, nodeId: 1, snapshotsRetained });
  open.push(s);
  return s;
}

function fresh(): string {
  const d = tempDir("qklzl-snap-");
  dirs.push(d);
  return d;
}

function metaAt(index: number, term = 1): SnapshotMeta {
  return { index, term, conf: { members: [{ id: 1, role: "voter", raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" }] } };
}

function snapFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, "snap")).sort();
}

function flipByte(file: string, fromEnd: number): void {
  const buf = fs.readFileSync(file);
  buf[buf.byteLength - fromEnd]! ^= 0xff;
  fs.writeFileSync(file, buf);
}

describe("snapshot store", () => {
  test("saveFrom streams an image in pieces (same file as save); a failing producer publishes nothing", async () => {
    const dir = fresh();
    const s = await openDir(dir);
    const data = dataFor(7, 1, 300_000);
    await s.snapshots.saveFrom!(metaAt(7), async (out) => {
      for (let at = 0; at < data.length; at += 65_537) await out.write(data.subarray(at, at + 65_537));
    });
    const file = path.join(dir, "snap", snapshotFileName(metaAt(7)));
    expect(new Uint8Array(fs.readFileSync(file))).toEqual(new Uint8Array(Buffer.concat(encodeSnapshotFile(metaAt(7), data))));
    expect((await s.snapshots.loadLatest())?.data).toEqual(data);
    await expect(
      s.snapshots.saveFrom!(metaAt(9), async (out) => {
        await out.write(data.subarray(0, 1000));
        throw new Error("producer failed");
      }),
    ).rejects.toThrow(/producer failed/);
    expect(snapFiles(dir)).toEqual([snapshotFileName(metaAt(7))]);
    expect(s.snapshots.latestMeta()).toEqual(metaAt(7));
    expect(s.log.snapshotMeta().index).toBe(7);
  });

  test("save, latestMeta, loadLatest and retention of the last N", async () => {
    const dir = fresh();
    let s = await openDir(dir, 2);
    expect(s.snapshots.latestMeta()).toBeNull();
    expect(await s.snapshots.loadLatest()).toBeNull();
    await s.log.save(range(1, 30, 1), null);
    for (const index of [10, 20, 30]) await s.snapshots.save(metaAt(index), dataFor(index, 1, 5000));
    expect(s.snapshots.latestMeta()).toEqual(metaAt(30));
    expect(snapFiles(dir)).toEqual([snapshotFileName(metaAt(20)), snapshotFileName(metaAt(30))]);
    const latest = await s.snapshots.loadLatest();
    expect(latest?.meta).toEqual(metaAt(30));
    expect(Array.from(latest!.data)).toEqual(Array.from(dataFor(30, 1, 5000)));
    expect(s.log.snapshotMeta()).toEqual(metaAt(30));
    await s.close();
    s = await openDir(dir, 2);
    expect(s.snapshots.latestMeta()).toEqual(metaAt(30));
    expect(s.log.snapshotMeta()).toEqual(metaAt(30));
  });

  test("an interrupted publication (tmp written, never renamed) leaves the previous snapshot in use", async () => {
    const dir = fresh();
    let s = await openDir(dir);
    await s.log.save(range(1, 20, 1), null);
    await s.snapshots.save(metaAt(10), dataFor(10, 1, 100));
    await s.close();
    // What a crash between the tmp write and the rename leaves behind (whole or partial tmp).
    const tmp = path.join(dir, "snap", snapshotFileName(metaAt(20)) + ".tmp");
    const chunks = encodeSnapshotFile(metaAt(20), dataFor(20, 1, 100));
    fs.writeFileSync(tmp, Buffer.concat(chunks).subarray(0, 90));
    s = await openDir(dir);
    expect(fs.existsSync(tmp)).toBe(false);
    expect(s.snapshots.latestMeta()).toEqual(metaAt(10));
    expect((await s.snapshots.loadLatest())?.meta).toEqual(metaAt(10));
    expect(s.log.snapshotMeta()).toEqual(metaAt(10));
  });

  test("a corrupt newest snapshot is skipped with a warning; the log goes back to the previous one", async () => {
    const dir = fresh();
    let s = await openDir(dir, 3);
    await s.log.save(range(1, 20, 1), null);
    await s.snapshots.save(metaAt(10), dataFor(10, 1, 100));
    await s.snapshots.save(metaAt(15), dataFor(15, 1, 100));
    expect(s.log.snapshotMeta().index).toBe(15);
    await s.close();
    flipByte(path.join(dir, "snap", snapshotFileName(metaAt(15))), 5);
    const warn = spyOn(consola, "warn").mockImplementation((() => {}) as never);
    try {
      s = await openDir(dir, 3);
      expect(warn.mock.calls.some((c) => String(c[0]).includes(snapshotFileName(metaAt(15))))).toBe(true);
    } finally {
      warn.mockRestore();
    }
    expect(s.snapshots.latestMeta()).toEqual(metaAt(10));
    expect((await s.snapshots.loadLatest())?.meta).toEqual(metaAt(10));
    expect(s.log.snapshotMeta()).toEqual(metaAt(10));
    expect(s.log.lastIndex()).toBe(20);
  });

  test("loadLatest falls back when the newest file is damaged after open", async () => {
    const dir = fresh();
    const s = await openDir(dir, 3);
    await s.log.save(range(1, 20, 1), null);
    await s.snapshots.save(metaAt(10), dataFor(10, 1, 100));
    await s.snapshots.save(metaAt(15), dataFor(15, 1, 100));
    flipByte(path.join(dir, "snap", snapshotFileName(metaAt(15))), 1);
    const warn = spyOn(consola, "warn").mockImplementation((() => {}) as never);
    try {
      expect((await s.snapshots.loadLatest())?.meta).toEqual(metaAt(10));
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });

  test("a log compacted past every usable snapshot refuses to start", async () => {
    const dir = fresh();
    let s = await openStorage({ dir, nodeId: 1, segmentBytes: 512 });
    for (let i = 1; i <= 100; i += 5) await s.log.save(range(i, i + 4, 1, 50), null);
    await s.snapshots.save(metaAt(90), dataFor(90, 1, 10));
    await s.log.compact(90);
    expect(s.log.firstIndex()).toBeGreaterThan(1);
    await s.close();
    fs.rmSync(path.join(dir, "snap", snapshotFileName(metaAt(90))));
    await expect(openStorage({ dir, nodeId: 1, segmentBytes: 512 })).rejects.toThrow(/storage corrupt: .*no usable snapshot/);
    void s;
  });
});
