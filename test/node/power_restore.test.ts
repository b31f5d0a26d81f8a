// Power loss during `qklzl snapshot restore` (src/node/backup/restore.ts): the restore writes through PowerFs
// (only fsynced data and directory entries survive a cut) and the power is cut before every write, rename,
// unlink and sync it makes, and once more after it returned. Every image must hold either no data dir (then
// restore, run again, builds a complete one: a leftover staging dir is no obstacle) or a complete one: the
// backup's state as its snapshot, the new cluster id, this node its only voter, a hard state that commits it.
// Never a half-written dir a node would start from. After restore returned, the complete dir must survive.
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { consola } from "consola";
import * as fs from "node:fs";
import * as path from "node:path";
import { KvStateMachine } from "../../src/kv/index.ts";
import { restoreBackup, type RestoreResult } from "../../src/node/backup/restore.ts";
import { openBackup } from "../../src/node/backup/source.ts";
import { openStorage } from "../../src/storage/index.ts";
import { PowerFs, type PowerImage } from "../storage/power_fs.ts";
import { prng } from "../storage/model_workload.ts";
import { tempDir } from "../storage/helpers.ts";

let quiet: ReturnType<typeof spyOn>[] = [];
beforeAll(() => {
  quiet = [spyOn(consola, "warn").mockImplementation((() => {}) as never), spyOn(consola, "info").mockImplementation((() => {}) as never)];
});
afterAll(() => {
  for (const spy of quiet) spy.mockRestore();
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function fresh(prefix = "qklzl-power-restore-"): string {
  // A RAM disk when there is one: every image is reopened (and often restored again) in a dir of its own.
  const d = fs.existsSync("/dev/shm") ? fs.mkdtempSync(`/dev/shm/${prefix}`) : tempDir(prefix);
  dirs.push(d);
  return d;
}

const keys = 40;
const target = { id: 7, raftAddr: "127.0.0.1:17001", httpAddr: "127.0.0.1:17002" };

/** backupFile: a backup of a store with `keys` keys, on the real disk (restore reads it from there). */
async function backupFile(): Promise<{ file: string; hash: string }> {
  const dir = fresh();
  const storage = await openStorage({ dir: path.join(dir, "src"), nodeId: 1 });
  const kv = new KvStateMachine();
  for (let i = 1; i <= keys; i++) kv.apply(i, { op: "put", key: `k${i}`, value: `v${i}-${"x".repeat(200)}` });
  const conf = { members: [{ id: 1, role: "voter" as const, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" }] };
  const take = async () => {
    const snap = await kv.snapshot();
    await storage.snapshots.save({ index: snap.index, term: 2, conf }, snap.data);
    return { index: snap.index };
  };
  const backup = await openBackup({ take, snapshots: storage.snapshots, clusterId: () => "c-1", nodeId: 1 });
  const parts: Uint8Array[] = [];
  for await (const chunk of backup.chunks()) parts.push(new Uint8Array(chunk));
  await storage.close();
  const file = path.join(dir, "b.backup");
  fs.writeFileSync(file, Buffer.concat(parts));
  return { file, hash: kv.stats().hash };
}

/** realDirs: the dirs LOCK files go to (on the real disk, outside the model) for a restore under `root`. */
function realDirs(root: string): string {
  const dataDir = path.join(root, "restored");
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(`${dataDir}.restoring`, { recursive: true });
  return dataDir;
}

/** complete: what is wrong with the dir as a restored one (empty: it is the complete restore). */
async function complete(files: PowerFs, dataDir: string, hash: string, clusterId: string | null): Promise<string[]> {
  let s;
  try {
    s = await openStorage({ dir: dataDir, nodeId: target.id, files });
  } catch (error) {
    return [`the data dir does not open: ${error instanceof Error ? error.message : String(error)}`];
  }
  try {
    const found: string[] = [];
    const meta = s.log.snapshotMeta();
    const hs = s.log.hardState();
    if (s.meta.clusterId === null || (clusterId !== null && s.meta.clusterId !== clusterId)) found.push(`cluster id ${s.meta.clusterId}, want ${clusterId ?? "one"}`);
    if (meta.index !== keys || s.log.lastIndex() !== keys) found.push(`snapshot ${meta.index}, log to ${s.log.lastIndex()}; want ${keys}`);
    const voters = meta.conf.members;
    if (voters.length !== 1 || voters[0]!.id !== target.id || voters[0]!.role !== "voter" || voters[0]!.incarnation !== s.meta.incarnation) {
      found.push(`configuration ${JSON.stringify(voters)}: want node ${target.id} alone, of incarnation ${s.meta.incarnation}`);
    }
    if (hs.commit < keys || hs.term < 1) found.push(`hard state ${JSON.stringify(hs)} does not commit the snapshot`);
    const snapshot = await s.snapshots.loadLatest();
    const kv = new KvStateMachine();
    if (snapshot !== null) await kv.restore(snapshot.data);
    if (kv.stats().hash !== hash) found.push(`the state hashes to ${kv.stats().hash}, the backup's to ${hash}`);
    return found;
  } finally {
    await s.close();
  }
}

/** check: one image: a complete data dir, or none, and then a second restore completes it. */
async function check(image: PowerImage, file: string, hash: string, first: RestoreResult, acknowledged: boolean): Promise<{ found: string[]; kind: string }> {
  const root = fresh("qklzl-power-restore-r-");
  const dataDir = realDirs(root);
  const files = PowerFs.fromImage(root, image);
  const present = image.get("restored");
  if (present !== undefined && !(present instanceof Uint8Array) && present.size > 0) {
    return { found: await complete(files, dataDir, hash, first.clusterId), kind: "complete" };
  }
  if (acknowledged) return { found: ["restore returned, but the data dir is gone"], kind: "none" };
  try {
    const again = await restoreBackup({ file, dataDir, ...target, files });
    return { found: await complete(files, dataDir, hash, again.clusterId), kind: "none" };
  } catch (error) {
    return { found: [`restore run again failed: ${error instanceof Error ? error.message : String(error)}`], kind: "none" };
  }
}

describe("power loss during snapshot restore", () => {
  test("every cut leaves no data dir (restore again completes it) or a complete one; after restore returned, the complete one", async () => {
    const { file, hash } = await backupFile();
    const root = fresh();
    const dataDir = realDirs(root);
    const files = new PowerFs(root);
    // The data dir exists and is empty, as `mkdir` before a restore leaves it: restore replaces it whole.
    files.mkdirp(dataDir);
    files.fsyncDir(root);
    const cuts: { number: number; what: string; images: PowerImage[] }[] = [];
    files.options.onMutation = (what) => {
      const number = files.mutations;
      const images = [files.cut({ rand: prng(number), strict: true })];
      for (let k = 1; k <= 3; k++) images.push(files.cut({ rand: prng(number * 31 + k) }));
      cuts.push({ number, what, images });
    };
    let result: RestoreResult;
    try {
      result = await restoreBackup({ file, dataDir, ...target, files });
    } finally {
      files.options.onMutation = undefined;
    }
    const whats = cuts.map((c) => c.what);
    if (process.env.DEBUG_CUTS) console.log(whats.join("\n"));
    const failures: string[] = [];
    const kinds = new Set<string>();
    const all = [...cuts, { number: files.mutations + 1, what: "(restore returned)", images: [files.cut({ rand: prng(0), strict: true })] }];
    for (const cut of all) {
      for (const [k, image] of cut.images.entries()) {
        const { found, kind } = await check(image, file, hash, result, cut.what === "(restore returned)");
        kinds.add(kind);
        if (found.length > 0) failures.push(`cut ${cut.number} (before "${cut.what}", ${k === 0 ? "strict" : `torn ${k}`}): ${found.join("; ")}`);
      }
      if (failures.length >= 5) break;
    }
    if (failures.length > 0) console.error(`power loss during restore:\n${failures.join("\n")}`);
    expect(failures).toEqual([]);
    expect([...kinds].sort()).toEqual(["complete", "none"]);
    // The sweep covered the staging dir's files and its publication.
    expect(whats.some((w) => w.startsWith("create restored.restoring/meta.json"))).toBe(true);
    expect(whats.some((w) => w.startsWith("rename restored.restoring/snap/"))).toBe(true);
    expect(whats.some((w) => w.startsWith("rename restored.restoring ->"))).toBe(true);
  }, 120_000);
});
