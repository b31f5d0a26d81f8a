import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { StatusJson } from "../../src/node/api.ts";
import { Launcher, waitFor as launcherWaitFor } from "../../src/cli/launcher/index.ts";

// The CLI against real nodes: `bun src/cli/main.ts` runs both the nodes (Go-style flags, `start`, `join`) and
// the client commands, on free loopback ports and temp dirs, through the one launcher (each node's output in
// its log file, shown when forming fails). Every node is killed by PID at the end.

const entry = join(import.meta.dir, "..", "..", "src", "cli", "main.ts");
const fast = ["-heartbeat-ms", "50", "-election-ms", "300"];
const cluster = new Launcher({ name: "cli-e2e", command: [process.execPath, entry], env: { NO_COLOR: "1" } });
/** Node: how the tests below name a node (its launcher slot under the names they were written with). */
interface Node {
  id: number;
  http: string;
  raft: string;
  dir: string;
  readonly proc: Subprocess | null;
}

function nodeOf(id: number): Node {
  const slot = cluster.node(id);
  return { id, http: slot.httpAddr, raft: slot.raftAddr, dir: slot.dataDir, get proc() { return slot.proc; } };
}
const [n1, n2, n3] = [nodeOf(1), nodeOf(2), nodeOf(3)];

async function qklzl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, entry, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

function status(node: Node): Promise<StatusJson | null> {
  return cluster.status(node.id, 1000);
}

async function voters(via: Node): Promise<number[]> {
  const s = await status(via);
  return (s?.members ?? []).filter((m) => m.role === "voter").map((m) => m.id).sort();
}

/** waitFor: the one waitFor, in the argument order these tests were written with. */
function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<true> {
  return launcherWaitFor(condition, { deadlineMs: timeoutMs, what });
}

/** stop sends SIGTERM and returns the exit code (SIGKILL after 15 s, which fails the test). */
function stop(node: Node): Promise<number | null> {
  return cluster.stop(node.id, { expectExitCode: null });
}

beforeAll(async () => {
  await cluster.explain(async () => {
    // The original design's Go-style line for node 1; node 2 through the `join` subcommand; node 3 with -join.
    await cluster.spawn(1, ["-id", "1", "-data-dir", n1.dir, "-bootstrap", "-raft-addr", n1.raft, "-http-addr", n1.http, ...fast]);
    await waitFor("node 1 to lead", async () => (await status(n1))?.is_leader === true);
    await cluster.spawn(2, ["join", n1.http, "--id", "2", "--data-dir", n2.dir, "--raft-addr", n2.raft, "--http-addr", n2.http, ...fast]);
    await waitFor("node 2 to be a voter", async () => (await voters(n1)).includes(2));
    await cluster.spawn(3, ["-id=3", `-data-dir=${n3.dir}`, `-join=${n1.http}`, `--raft-addr=${n3.raft}`, `--http-addr=${n3.http}`, ...fast]);
    await waitFor("node 3 to be a voter", async () => (await voters(n1)).join() === "1,2,3");
  });
}, 90_000);

afterAll(async () => {
  await cluster.destroy();
});

describe("qklzl CLI on a 3-node cluster", () => {
  test("kv put/get/delete through a follower's address follow the leader", async () => {
    const put = await qklzl("kv", "put", "greeting", "hello world", "--addr", n2.http);
    expect(put).toMatchObject({ code: 0, stderr: "" });
    expect(put.stdout).toMatch(/^OK \(index \d+\)\n$/);
    expect(await qklzl("kv", "get", "greeting", "--addr", n3.http)).toMatchObject({ code: 0, stdout: "hello world\n" });
    const json = await qklzl("kv", "get", "greeting", "--addr", n3.http, "--json");
    expect(JSON.parse(json.stdout)).toEqual({
      key: "greeting",
      value: "hello world",
      create_revision: expect.any(Number),
      mod_revision: expect.any(Number),
      version: 1,
      revision: expect.any(Number),
    });
    // A value that starts with "-" goes after --.
    expect((await qklzl("kv", "put", "n", "--addr", n1.http, "--", "-5")).code).toBe(0);
    expect((await qklzl("kv", "get", "n", "--addr", n1.http)).stdout).toBe("-5\n");
    expect((await qklzl("kv", "delete", "greeting", "--addr", n3.http)).code).toBe(0);
    const missing = await qklzl("kv", "get", "greeting", "--addr", n2.http);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toContain("key_not_found");
  }, 30_000);

  test("a stale read on a follower sees a write once it applied", async () => {
    expect((await qklzl("kv", "put", "s", "1", "--addr", n1.http)).code).toBe(0);
    await waitFor("node 3 to apply", async () => (await qklzl("kv", "get", "s", "--addr", n3.http, "--consistency", "stale")).stdout === "1\n", 10_000);
  }, 20_000);

  test("status lists all three members and stars the leader; --json parses", async () => {
    const table = await qklzl("status", "--addr", n3.http);
    expect(table.code).toBe(0);
    const rows = table.stdout.split("\n").filter((line) => /^\d/.test(line));
    expect(rows).toHaveLength(3);
    expect(rows.filter((row) => /^\d\*/.test(row))).toHaveLength(1);
    expect(rows.find((row) => row.startsWith("1*"))).toContain("leader");
    expect(table.stdout).toContain(`leader: node 1 at ${n1.http}`);
    const json = JSON.parse((await qklzl("status", "--addr", n2.http, "--json")).stdout) as { leader_id: number; members: { id: number; status: StatusJson | null }[] };
    expect(json.leader_id).toBe(1);
    expect(json.members.map((m) => [m.id, m.status?.id])).toEqual([[1, 1], [2, 2], [3, 3]]);
  }, 20_000);

  test("check agrees on a quiet cluster; snapshot answers its index", async () => {
    const check = await qklzl("check", "--addr", n2.http);
    expect(check.stderr).toBe("");
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/^OK: 3 members agree at applied index \d+: hash \S+ \(\d+ keys\)\n$/);
    const snapshot = await qklzl("snapshot", "--addr", n2.http);
    expect(snapshot.code).toBe(0);
    expect(snapshot.stdout).toMatch(/^OK: snapshot at index \d+\n$/);
  }, 30_000);

  test("transfer-leader moves leadership; leave removes node 3, which exits 0 by itself", async () => {
    expect((await qklzl("transfer-leader", "--to", "2", "--addr", n3.http)).code).toBe(0);
    await waitFor("node 2 to lead", async () => (await status(n1))?.leader_id === 2, 15_000);
    const leave = await qklzl("leave", "3", "--addr", n1.http);
    expect(leave).toMatchObject({ code: 0, stdout: "OK: node 3 removed\n" });
    const exited = await Promise.race([n3.proc!.exited, Bun.sleep(15_000).then(() => "still running")]);
    expect(exited).toBe(0);
    const members = await qklzl("members", "--addr", n1.http);
    expect(members.stdout.split("\n").filter((line) => /^\d/.test(line)).map((line) => line.split(/\s+/)[0])).toEqual(["1", "2*"]);
  }, 60_000);

  test("SIGTERM stops a node with exit code 0", async () => {
    expect(await stop(n1)).toBe(0);
    expect(await stop(n2)).toBe(0);
  }, 40_000);
});
