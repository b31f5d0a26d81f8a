import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { openStorage } from "../../src/storage/index.ts";
import { tempDir } from "./helpers.ts";

// Every data directory has an incarnation id (meta.json): drawn when the directory is created, kept across
// restarts while it holds Raft state, drawn anew when the directory (or just its log and snapshots) is wiped,
// and given once to a directory written before incarnations existed.

const entry = { kind: "noop" as const, index: 1, term: 1 };

/** openOnce opens the dir, optionally writes one entry and a hard state, closes it, and returns its incarnation. */
async function openOnce(dir: string, write = false): Promise<string> {
  const storage = await openStorage({ dir, nodeId: 1 });
  if (write) await storage.log.save([entry], { term: 1, vote: 1, commit: 1 });
  await storage.close();
  return storage.meta.incarnation;
}

test("a new data dir gets an incarnation that survives restarts; a wiped one gets another", async () => {
  const dir = tempDir();
  const first = await openOnce(dir, true);
  expect(first).toMatch(/^\S{16,}$/);
  expect(await openOnce(dir)).toBe(first);
  expect(JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8")).incarnation).toBe(first);
  fs.rmSync(dir, { recursive: true, force: true });
  expect(await openOnce(dir)).not.toBe(first);
});

test("a dir whose log and snapshots were deleted but meta.json kept is a new incarnation", async () => {
  const dir = tempDir();
  const first = await openOnce(dir, true);
  fs.rmSync(path.join(dir, "wal"), { recursive: true, force: true });
  fs.rmSync(path.join(dir, "snap"), { recursive: true, force: true });
  const second = await openOnce(dir, true);
  expect(second).not.toBe(first);
  expect(await openOnce(dir)).toBe(second);
});

test("a data dir from before incarnations gets one on its first open, recorded once", async () => {
  const dir = tempDir();
  await openOnce(dir, true);
  fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ format: 1, nodeId: 1, clusterId: "c-old" }));
  const storage = await openStorage({ dir, nodeId: 1 });
  await storage.close();
  expect(storage.meta.clusterId).toBe("c-old");
  const given = storage.meta.incarnation;
  expect(given).toMatch(/^\S{16,}$/);
  expect(JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8"))).toEqual({ format: 1, nodeId: 1, clusterId: "c-old", incarnation: given });
  expect(await openOnce(dir)).toBe(given);
});

test("setting the cluster id keeps the incarnation", async () => {
  const dir = tempDir();
  const storage = await openStorage({ dir, nodeId: 1 });
  const before = storage.meta.incarnation;
  await storage.setClusterId("c-1");
  await storage.log.save([entry], { term: 1, vote: 1, commit: 1 });
  await storage.close();
  expect(await openOnce(dir)).toBe(before);
});
