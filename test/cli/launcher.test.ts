import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Launcher, start_marker, waitFor } from "../../src/cli/launcher/index.ts";

// The one launcher (src/cli/launcher/) with a fake node program: the documented command line, each output
// mode, stopAll's deadline, and whose directory destroy() removes. The real clusters are in test/cluster,
// test/integration, test/cli/cluster_*.test.ts and the scenarios.

const fakeNode = [process.execPath, path.join(import.meta.dir, "fixtures", "fake_node.ts")];

test("start runs the documented command line, data dir relative to the nodes' cwd, output in the node's log", async () => {
  const launcher = new Launcher({ size: 2, name: "launcher-log", command: fakeNode, extraArgs: ["-heartbeat-ms", "50"] });
  try {
    const node = await launcher.start(2, { join: 1 });
    const logged = await waitFor(() => {
      const text = existsSync(node.logPath) ? readFileSync(node.logPath, "utf8") : "";
      return text.includes("a warning line") && text.includes("args:") ? text : null;
    }, { deadlineMs: 10_000, what: "node 2's output in its log" });
    const args = `-id 2 -data-dir ./data2 -join ${launcher.node(1).httpAddr} -raft-addr ${node.raftAddr} -http-addr ${node.httpAddr} -heartbeat-ms 50`;
    expect(logged).toContain(`${start_marker}1 at `);
    expect(logged).toContain(`args: ${args}`);
    expect(node.commandLine).toEqual([...fakeNode, ...args.split(" ")]);
    expect(existsSync(node.dataDir)).toBe(true);
    expect(launcher.running()).toEqual([2]);
    expect(await launcher.stop(2)).toBe(0);
    expect(launcher.describeExit(2)).toBe("exit code 0");
  } finally {
    await launcher.destroy();
  }
  expect(existsSync(launcher.root)).toBe(false);
}, 30_000);

test("prefixed output goes to the given sinks line by line; stopAll kills a node that ignores SIGTERM after the deadline", async () => {
  const root = mkdtempSync(path.join(tmpdir(), "qklzl-launcher-root-"));
  const out: string[] = [];
  const err: string[] = [];
  const exits: number[] = [];
  const launcher = new Launcher({
    root,
    dataDirName: (id) => `n${id}`,
    command: fakeNode,
    output: { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) } },
    env: { FAKE_NODE_IGNORE_TERM: "" },
    onExit: (id) => exits.push(id),
  });
  const stubborn = new Launcher({ size: 1, name: "launcher-stubborn", command: fakeNode, env: { FAKE_NODE_IGNORE_TERM: "1" } });
  try {
    await launcher.start(1, { bootstrap: true });
    await launcher.start(3, { join: 1 });
    await waitFor(() => out.length >= 2 && err.length >= 2, { deadlineMs: 10_000, what: "both nodes' first lines" });
    expect(out.find((line) => line.startsWith("[n1] args: -id 1 -data-dir ./n1 -bootstrap "))).toBeDefined();
    expect(err.sort()).toEqual(["[n1] a warning line\n", "[n3] a warning line\n"]);
    expect(await launcher.stopAll(5000)).toEqual([]);
    expect(exits.sort()).toEqual([1, 3]);

    await stubborn.start(1);
    const log = stubborn.node(1).logPath;
    await waitFor(() => existsSync(log) && readFileSync(log, "utf8").includes("args:"), { deadlineMs: 10_000, what: "the stubborn node to handle SIGTERM" });
    const started = performance.now();
    expect(await stubborn.stopAll(500)).toEqual([1]);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(stubborn.describeExit(1)).toBe("signal SIGKILL");
  } finally {
    await launcher.destroy();
    await stubborn.destroy();
  }
  // A given root is the caller's (npm start's ./.qklzl): destroy() leaves it.
  expect(existsSync(path.join(root, "n1"))).toBe(true);
  rmSync(root, { recursive: true, force: true });
}, 30_000);
