import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNode } from "../../src/node/index.ts";
import type { RunningNode } from "../../src/node/index.ts";
import { nodeOptions, waitFor } from "./harness.ts";

/**
 * test/fixtures/datadir_v1/n1 was written by qklzl before revisions (main at 66649d7, one node):
 * put alpha=one, put beta=two, put alpha=uno, put gamma="three ✓", delete beta (index 8), POST /snapshot
 * (a v1 image at 8), then put delta=four, put gamma=drei, delete alpha, delete nope (deleted nothing),
 * put epsilon=five (index 13), SIGTERM. The new code must open it: v1 image + v1 log entries.
 */
const fixture = path.join(import.meta.dir, "..", "fixtures", "datadir_v1", "n1");

let node: RunningNode | null = null;
let root = "";
afterEach(async () => {
  await node?.stop();
  node = null;
  if (root !== "") fs.rmSync(root, { recursive: true, force: true });
});

async function open(dir: string): Promise<RunningNode> {
  const started = await startNode(nodeOptions(1, dir));
  await waitFor("leader", () => started.api.status().is_leader && started.api.isReady(), 15_000);
  return started;
}

describe("node: a data dir written before revisions", () => {
  test("opens, serves the keys with revisions, takes new writes, and reopens the same after a v2 snapshot", async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "qklzl-v1-"));
    const dir = path.join(root, "n1");
    fs.cpSync(fixture, dir, { recursive: true });
    node = await open(dir);
    const read = (key: string) => node!.api.read(key, "linearizable");
    expect(await read("alpha")).toBeNull();
    expect(await read("beta")).toBeNull();
    expect(await read("gamma")).toEqual({ value: "drei" });
    expect(await read("delta")).toEqual({ value: "four" });
    expect(await read("epsilon")).toEqual({ value: "five" });
    // Still the v1 era (kv/legacy_era.ts): after the v1 image at 8 and the v1 entries 9-13, the upgraded
    // leader's noop is 14, so every key shows 14 (as a v1 image at 14 would, on any replica).
    expect(await node.api.readKv("gamma", "linearizable")).toEqual({
      kv: { key: "gamma", value: "drei", create_revision: 14, mod_revision: 14, version: 1, lease: 0 },
      revision: 14,
    });
    expect((await node.api.readKv("epsilon", "linearizable"))?.kv).toMatchObject({ create_revision: 14, mod_revision: 14, version: 1 });
    // The first write of today's binary (15) ends the era there: the older keys stay at 14.
    await node.api.write({ op: "put", key: "zeta", value: "six" });
    expect((await node.api.readKv("zeta", "linearizable"))?.kv).toMatchObject({ create_revision: 15, mod_revision: 15, version: 1 });
    expect((await node.api.readKv("epsilon", "linearizable"))?.kv).toMatchObject({ create_revision: 14, mod_revision: 14, version: 1 });
    const before = node.api.status();
    expect(before.kv_keys).toBe(4);

    // Reopen: the v1 image and a log of v1 and v2 entries replay to the same state.
    await node.stop();
    node = await open(dir);
    await waitFor("replayed", () => node!.api.status().applied_index >= before.applied_index);
    expect((await node.api.readKv("zeta", "linearizable"))?.revision).toBe(15);
    const replayed = node.api.status();
    expect(replayed.kv_hash).toBe(before.kv_hash);
    // Then a v2 snapshot, and reopen from it.
    await node.api.snapshot();
    await node.stop();
    node = await open(dir);
    await waitFor("restored", () => node!.api.status().applied_index >= replayed.applied_index);
    const restored = node.api.status();
    expect(restored.kv_keys).toBe(4);
    expect(restored.kv_hash).toBe(before.kv_hash);
    expect(await node.api.readKv("gamma", "stale")).toEqual({
      kv: { key: "gamma", value: "drei", create_revision: 14, mod_revision: 14, version: 1, lease: 0 },
      revision: 15,
    });
  }, 60_000);
});
