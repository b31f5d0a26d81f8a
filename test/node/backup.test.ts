import { afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { KvStateMachine } from "../../src/kv/index.ts";
import { backup_align_bytes, backup_checksum_bytes, verifyBackup } from "../../src/node/backup/format.ts";
import { restoreBackup } from "../../src/node/backup/restore.ts";
import { openBackup } from "../../src/node/backup/source.ts";
import { verifyBackupFile } from "../../src/node/backup/verify_file.ts";
import { isQklzlError } from "../../src/shared/errors.ts";
import { openStorage } from "../../src/storage/index.ts";

// The backup file in process: streamed from a stored snapshot (one piece at a time, checksummed, padded as
// etcdctl wants), refused when the stored image or the file is damaged, and restored into a new cluster's dir.

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qklzl-backup-"));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** storeWithSnapshot: a data dir whose snapshot holds `keys` keys with big values (several 1 MiB pieces). */
async function storeWithSnapshot(keys: number) {
  const dir = tempDir();
  const storage = await openStorage({ dir: path.join(dir, "src"), nodeId: 1 });
  const kv = new KvStateMachine();
  for (let i = 1; i <= keys; i++) kv.apply(i, { op: "put", key: `k${String(i).padStart(5, "0")}`, value: `v${i}-${"x".repeat(1000)}` });
  const conf = { members: [{ id: 1, role: "voter" as const, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" }] };
  const take = async () => {
    const snap = await kv.snapshot();
    await storage.snapshots.save({ index: snap.index, term: 2, conf }, snap.data);
    return { index: snap.index };
  };
  return { dir, storage, kv, take };
}

async function collect(chunks: AsyncGenerator<Uint8Array>): Promise<{ file: Buffer; pieces: number; largest: number }> {
  const parts: Uint8Array[] = [];
  let largest = 0;
  for await (const chunk of chunks) {
    parts.push(new Uint8Array(chunk));
    largest = Math.max(largest, chunk.length);
  }
  return { file: Buffer.concat(parts), pieces: parts.length, largest };
}

describe("backup stream", () => {
  test("streams the snapshot at one index in bounded pieces, padded to 512 + sha256, and it verifies", async () => {
    const { storage, kv, take } = await storeWithSnapshot(3000);
    const backup = await openBackup({ take, snapshots: storage.snapshots, clusterId: () => "c-1", nodeId: 1 });
    // Writes after the snapshot do not change the backup: it is the state at its index.
    for (let i = 3001; i <= 3100; i++) kv.apply(i, { op: "put", key: `later${i}`, value: "x" });
    const { file, pieces, largest } = await collect(backup.chunks());
    expect(file.length).toBe(backup.size);
    expect((file.length - backup_checksum_bytes) % backup_align_bytes).toBe(0);
    expect(pieces).toBeGreaterThan(3);
    expect(largest).toBeLessThanOrEqual(1024 * 1024);
    const verified = verifyBackup(file);
    expect(verified.header).toMatchObject({ index: 3000, term: 2, revision: 3001, keys: 3000, cluster_id: "c-1", node_id: 1 });
    const restored = new KvStateMachine();
    await restored.restore(verified.image);
    expect(restored.stats().keys).toBe(3000);
    expect(restored.get("later3001")).toBeUndefined();
    await storage.close();
  });

  test("a stored image that fails its CRC cuts the stream before the checksum", async () => {
    const { storage, take } = await storeWithSnapshot(2000);
    await take();
    const snapDir = path.join(storage.dir, "snap");
    const file = path.join(snapDir, fs.readdirSync(snapDir).filter((n) => n.endsWith(".snap")).sort().at(-1)!);
    const backup = await openBackup({ take: async () => ({ index: 2000 }), snapshots: storage.snapshots, clusterId: () => null, nodeId: 1 });
    // Damage the image on disk after the stream opened (past the part read for the header).
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.from("ZZZZ"), 0, 4, fs.fstatSync(fd).size - 10);
    fs.closeSync(fd);
    let sent = 0;
    let failure: unknown = null;
    try {
      for await (const chunk of backup.chunks()) sent += chunk.length;
    } catch (error) {
      failure = error;
    }
    expect(String(failure)).toContain("CRC mismatch");
    expect(sent).toBeLessThan(backup.size);
    await storage.close();
  });
});

describe("backup file checks and restore", () => {
  async function savedFile(): Promise<{ file: string; bytes: Buffer; hash: string }> {
    const { dir, storage, kv, take } = await storeWithSnapshot(500);
    const backup = await openBackup({ take, snapshots: storage.snapshots, clusterId: () => "c-1", nodeId: 1 });
    const { file: bytes } = await collect(backup.chunks());
    await storage.close();
    const file = path.join(dir, "b.backup");
    fs.writeFileSync(file, bytes);
    return { file, bytes, hash: kv.stats().hash };
  }

  function corrupt(run: () => unknown): string {
    try {
      run();
    } catch (error) {
      expect(isQklzlError(error) && error.code === "backup_corrupt").toBe(true);
      return (error as Error).message;
    }
    throw new Error("no error");
  }

  test("status refuses a flipped byte, a truncated file, a file that is not a backup", async () => {
    const { file, bytes } = await savedFile();
    expect(verifyBackupFile(file).header.keys).toBe(500);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 1;
    fs.writeFileSync(file, flipped);
    expect(corrupt(() => verifyBackupFile(file))).toContain("sha256 mismatch");
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 1));
    expect(corrupt(() => verifyBackupFile(file))).toContain("truncated");
    fs.writeFileSync(file, Buffer.from("SQLite format 3\0 and more bytes than a preamble"));
    expect(corrupt(() => verifyBackupFile(file))).toContain("bad magic");
  });

  test("restore builds a new cluster's dir: new cluster id and incarnation, the image as its snapshot, one voter", async () => {
    const { file, hash } = await savedFile();
    const dataDir = path.join(tempDir(), "restored");
    const result = await restoreBackup({ file, dataDir, id: 7, raftAddr: "127.0.0.1:17001", httpAddr: "127.0.0.1:17002" });
    expect(result.clusterId).not.toBe("c-1");
    const storage = await openStorage({ dir: dataDir, nodeId: 7 });
    expect(storage.meta.clusterId).toBe(result.clusterId);
    expect(storage.meta.incarnation).toBe(result.incarnation);
    const meta = storage.log.snapshotMeta();
    expect(meta.index).toBe(500);
    expect(meta.conf.members).toEqual([{ id: 7, role: "voter", raftAddr: "127.0.0.1:17001", httpAddr: "127.0.0.1:17002", incarnation: result.incarnation }]);
    expect(storage.log.hardState().commit).toBe(500);
    const snapshot = await storage.snapshots.loadLatest();
    const kv = new KvStateMachine();
    await kv.restore(snapshot!.data);
    expect(kv.stats().hash).toBe(hash);
    await storage.close();
    // A second restore into the same dir changes nothing.
    const again = await restoreBackup({ file, dataDir, id: 7, raftAddr: "127.0.0.1:17001", httpAddr: "127.0.0.1:17002" }).catch((e) => e);
    expect(isQklzlError(again) && again.code).toBe("data_dir_not_empty");
  });

  test("restore publishes the dir whole: no staging dir is left; one an interrupted restore left is cleared; one in use is refused", async () => {
    const { file, hash } = await savedFile();
    const parent = tempDir();
    const dataDir = path.join(parent, "restored");
    // What a restore cut short by a power cut can leave: a staging dir with files and subdirs, never published.
    fs.mkdirSync(path.join(`${dataDir}.restoring`, "wal"), { recursive: true });
    fs.writeFileSync(path.join(`${dataDir}.restoring`, "meta.json"), "{");
    fs.writeFileSync(path.join(`${dataDir}.restoring`, "wal", "0000000000000001.seg.tmp"), "x");
    await restoreBackup({ file, dataDir, id: 7, raftAddr: "127.0.0.1:17001", httpAddr: "127.0.0.1:17002" });
    expect(fs.readdirSync(parent)).toEqual(["restored"]);
    const storage = await openStorage({ dir: dataDir, nodeId: 7 });
    const snapshot = await storage.snapshots.loadLatest();
    const kv = new KvStateMachine();
    await kv.restore(snapshot!.data);
    expect(kv.stats().hash).toBe(hash);
    await storage.close();
    // A staging dir whose LOCK a live process holds (a restore running now): refused, and left as it is.
    const other = path.join(parent, "other");
    fs.mkdirSync(`${other}.restoring`);
    fs.writeFileSync(path.join(`${other}.restoring`, "LOCK"), `${process.pid} -\n`);
    let refused = "";
    try {
      await restoreBackup({ file, dataDir: other, id: 7, raftAddr: "127.0.0.1:17001", httpAddr: "127.0.0.1:17002" });
    } catch (error) {
      refused = isQklzlError(error) ? `${error.code}: ${error.message}` : String(error);
    }
    expect(refused).toContain("is in use by process");
    expect(fs.readdirSync(`${other}.restoring`)).toEqual(["LOCK"]);
    expect(fs.existsSync(other)).toBe(false);
  });

  test("restore into a data dir that is a mount point writes it in place (a rename cannot replace a mount point)", async () => {
    const { file, hash } = await savedFile();
    const dataDir = path.join(tempDir(), "volume");
    fs.mkdirSync(dataDir);
    const mount = process.getuid?.() === 0 ? spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", dataDir]) : null;
    if (mount === null || mount.status !== 0) {
      console.warn(`SKIP: mounting a tmpfs needs root (${mount?.stderr.toString().trim() ?? "not root"})`);
      return;
    }
    try {
      await restoreBackup({ file, dataDir, id: 7, raftAddr: "127.0.0.1:17001", httpAddr: "127.0.0.1:17002" });
      expect(fs.existsSync(`${dataDir}.restoring`)).toBe(false);
      const storage = await openStorage({ dir: dataDir, nodeId: 7 });
      const kv = new KvStateMachine();
      await kv.restore((await storage.snapshots.loadLatest())!.data);
      expect([kv.stats().hash, storage.meta.clusterId !== null]).toEqual([hash, true]);
      await storage.close();
    } finally {
      spawnSync("umount", [dataDir]);
    }
  });
});
