import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StatusJson } from "../../src/node/api.ts";
import { canListen, CheckError, waitFor } from "../../src/cli/launcher/index.ts";

// `npm start` (scripts/cluster.ts) run from source on free ports: it brings up three voters, says so, and a
// SIGINT (Ctrl-C) stops all three and exits 0. A second run restarts the same cluster from its data.

const repo = join(import.meta.dir, "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "qklzl-cluster-script-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** freeBase finds a base port with base+1..base+3 all free (cluster.ts puts node i on base+i). */
function freeBase(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    if ([1, 2, 3].every((i) => canListen(base + i))) return base;
  }
  throw new Error("no free port range found");
}

async function runUntilUp(httpBase: number, raftBase: number): Promise<{ output: string; code: number; leader: StatusJson }> {
  const proc = Bun.spawn(
    [process.execPath, join(repo, "scripts", "cluster.ts"), "--from-source", "--data", join(scratch, "data"), "--http-port-base", String(httpBase), "--raft-port-base", String(raftBase)],
    // NODE_ENV=test (set by bun test) would make consola hide the nodes' info lines.
    { cwd: repo, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1", NODE_ENV: "production" } },
  );
  let output = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of proc.stdout) output += decoder.decode(chunk);
  })();
  const errors = new Response(proc.stderr).text();
  try {
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new CheckError(`cluster.ts exited with code ${proc.exitCode}`);
        return output.includes("qklzl cluster is up");
      },
      { deadlineMs: 60_000, what: "qklzl cluster is up", intervalMs: 100 },
    ).catch(async (error: Error) => {
      throw new Error(`cluster did not come up (${error.message}):\n${output}\n${await errors}`);
    });
    const leader = (await (await fetch(`http://127.0.0.1:${httpBase + 1}/status`)).json()) as StatusJson;
    proc.kill("SIGINT");
    const code = await Promise.race([proc.exited, Bun.sleep(30_000).then(() => -1)]);
    await reading;
    return { output, code, leader };
  } finally {
    proc.kill("SIGKILL");
  }
}

test("npm start runs three voters, prints addresses and examples, and Ctrl-C stops them all (then restarts from data)", async () => {
  const httpBase = freeBase();
  const raftBase = freeBase();
  const first = await runUntilUp(httpBase, raftBase);
  expect(first.code).toBe(0);
  expect(first.leader.members.filter((m) => m.role === "voter").map((m) => m.id).sort()).toEqual([1, 2, 3]);
  expect(first.output).toContain(`node 2: HTTP http://127.0.0.1:${httpBase + 2}`);
  expect(first.output).toContain("bin/qklzl kv put");
  expect(first.output).toContain(`Dashboard: http://127.0.0.1:${httpBase + 1}/ui`);
  expect(first.output).toContain("[n3] ");
  expect(first.output).toContain("[cluster] stopped");
  // Every node let go of its port: a second run can bind them again and restarts from the same data.
  const second = await runUntilUp(httpBase, raftBase);
  expect(second.output).toContain("restarting from");
  // Node 1 started with -bootstrap on existing data is the designated leader.
  expect(second.output).toContain("3 voters, leader node 1.");
  expect(second.leader.cluster_id).toBe(first.leader.cluster_id);
  expect(second.code).toBe(0);
}, 150_000);

test("busy ports are reported up front, with exit code 1", async () => {
  const httpBase = freeBase();
  const blocker = Bun.listen({ hostname: "127.0.0.1", port: httpBase + 2, socket: { data() {} } });
  try {
    const result = Bun.spawnSync(
      [process.execPath, join(repo, "scripts", "cluster.ts"), "--from-source", "--data", join(scratch, "busy"), "--http-port-base", String(httpBase), "--raft-port-base", String(freeBase())],
      { cwd: repo, timeout: 30_000 },
    );
    expect(result.stdout.toString()).toContain(`127.0.0.1:${httpBase + 2} already in use`);
    expect(result.exitCode).toBe(1);
  } finally {
    blocker.stop(true);
  }
}, 40_000);
