// A snapshot image is fdatasynced as it is written, every 4 MiB, not only once at the end: on ext4 the WAL's
// next fdatasync would otherwise write back the whole unsynced image first (its journal commit carries every
// newly allocated dirty page), which was the p99 of large-value puts (BENCHMARKS.md, 2026-12-03). The file
// layer is node:fs with its handles counted: how many bytes each sync found unsynced.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSnapshotStore, nodeFs, type StorageFs } from "../../src/storage/index.ts";

const dir = mkdtempSync(join(tmpdir(), "qklzl-snapsync-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("snapshot images are synced as they are written", () => {
  test("a 21 MiB image: a sync after every 4 MiB, and the image reads back whole", async () => {
    const unsyncedAtSync: number[] = [];
    const files: StorageFs = {
      ...nodeFs,
      async openForWrite(file) {
        const handle = await nodeFs.openForWrite(file);
        let unsynced = 0;
        return {
          write: async (buf, position) => {
            unsynced += buf.byteLength;
            await handle.write(buf, position);
          },
          sync: async () => {
            unsyncedAtSync.push(unsynced);
            unsynced = 0;
            await handle.sync();
          },
          close: () => handle.close(),
        };
      },
    };
    const store = FileSnapshotStore.open({ snapDir: join(dir, "snap"), retained: 1, files });
    const image = new Uint8Array(21 * 1024 * 1024);
    for (let i = 0; i < image.length; i += 4096) image[i] = (i / 4096) & 0xff;
    await store.saveFrom({ index: 10, term: 2, conf: { members: [] } }, async (out) => {
      // In pieces as writeImage hands them over (64 KiB), so the count runs across writes.
      for (let at = 0; at < image.length; at += 64 * 1024) await out.write(image.subarray(at, at + 64 * 1024));
    });
    // 21 MiB: five syncs as it goes (each at 4 MiB written) and the final one with the rest and the header.
    expect(unsyncedAtSync.length).toBe(6);
    for (const bytes of unsyncedAtSync.slice(0, -1)) expect(bytes).toBeLessThanOrEqual(4 * 1024 * 1024 + 64 * 1024);
    const loaded = await store.loadLatest();
    expect(loaded?.meta.index).toBe(10);
    expect(Buffer.from(loaded!.data).equals(Buffer.from(image))).toBe(true);
  });
});
