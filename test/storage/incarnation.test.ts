import { expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { openStorage } from "../../src/storage/index.ts";
import { tempDir } from "./helpers.ts";

// Every data directory has an incarnation id (meta.json): drawn when the directory is created, kept across
// restarts, drawn anew when the directory is wiped, and given once to a directory written before they existed.

async function incarnationOf(dir: string): Promise<string> {
  const storage = await openStorage({ dir, nodeId: 1 });
  await storage.close();
  return storage.meta.incarnation;
}

test("a new data dir gets an incarnation that survives restarts; a wiped one gets another", async () => {
  const dir = tempDir();
  const first = await incarnationOf(dir);
  expect(first).toMatch(/^\S{16,}$/);
  expect(await incarnationOf(dir)).toBe(first);
  expect(JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8")).incarnation).toBe(first);
  fs.rmSync(dir, { recursive: true, force: true });
  const second = await incarnationOf(dir);
  expect(second).not.toBe(first);
});

test("a data dir from before incarnations gets one on its first open, recorded once", async () => {
  const dir = tempDir();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ format: 1, nodeId: 1, clusterId: "c-old" }));
  const storage = await openStorage({ dir, nodeId: 1 });
  await storage.close();
  expect(storage.meta.clusterId).toBe("c-old");
  const given = storage.meta.incarnation;
  expect(given).toMatch(/^\S{16,}$/);
  expect(JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8"))).toEqual({ format: 1, nodeId: 1, clusterId: "c-old", incarnation: given });
  expect(await incarnationOf(dir)).toBe(given);
});

test("setting the cluster id keeps the incarnation", async () => {
  const dir = tempDir();
  const storage = await openStorage({ dir, nodeId: 1 });
  const before = storage.meta.incarnation;
  await storage.setClusterId("c-1");
  await storage.close();
  expect(await incarnationOf(dir)).toBe(before);
});
