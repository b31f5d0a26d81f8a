import { recordsEnd } from "../storage/helpers.ts";
import { afterEach, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNode } from "../../src/node/index.ts";
import type { RunningNode } from "../../src/node/index.ts";
import { nodeOptions, waitFor } from "./harness.ts";

// A node that cut a torn WAL tail at start (a crash in the middle of a write) says so in /status, so the
// dashboard and an operator can see it: torn_tail_bytes is what was dropped, 0 after a clean start.

let node: RunningNode | null = null;
let root = "";
afterEach(async () => {
  await node?.stop();
  node = null;
  if (root !== "") fs.rmSync(root, { recursive: true, force: true });
});

async function open(dir: string, bootstrap: boolean): Promise<RunningNode> {
  const started = await startNode({ ...nodeOptions(1, dir), bootstrap });
  await waitFor("leader", () => started.api.status().is_leader && started.api.isReady(), 15_000);
  return started;
}

describe("node: a torn WAL tail recovered at start", () => {
  test("shows in /status as torn_tail_bytes (0 after a clean start), and the acknowledged writes survive", async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "qklzl-torn-"));
    const dir = path.join(root, "n1");
    node = await open(dir, true);
    expect(node.api.status().torn_tail_bytes).toBe(0);
    await node.api.write({ op: "put", key: "a", value: "1" });
    await node.api.write({ op: "put", key: "b", value: "2" });
    await node.stop();
    node = null;
    // The crash left half a record: a few bytes of a header that the next write never finished.
    const walDir = path.join(dir, "wal");
    const last = fs.readdirSync(walDir).filter((f) => f.endsWith(".seg")).sort().at(-1);
    expect(last).toBeDefined();
    // Where the next record would go: the segment is preallocated (zeros after its records).
    const file = path.join(walDir, last!);
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.from([0x13, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe]), 0, 7, recordsEnd(fs.readFileSync(file)));
    fs.closeSync(fd);
    node = await open(dir, false);
    expect(node.api.status().torn_tail_bytes).toBe(7);
    expect(await node.api.read("a", "linearizable")).toEqual({ value: "1" });
    expect(await node.api.read("b", "linearizable")).toEqual({ value: "2" });
    await node.stop();
    node = null;
    node = await open(dir, false);
    expect(node.api.status().torn_tail_bytes).toBe(0);
  });
});
