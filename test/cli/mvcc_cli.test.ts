import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster, fastFlags } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// The CLI commands of issue 12 (kv list, kv get --revision, conditional kv put/delete, txn, compact, --json)
// run from source against three nodes of the binary, through a follower's address (they follow the leader).

const entry = join(import.meta.dir, "..", "..", "src", "cli", "main.ts");
const cluster = formedForThisFile(new Cluster({ name: "cli-mvcc", extraArgs: fastFlags }), { timeoutMs: 90_000 });

async function qklzl(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, entry, ...args], {
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** addr: node 2's address (a follower, usually: the commands must find the leader themselves). */
function addr(): string[] {
  return ["--addr", cluster.node(2).httpAddr];
}

async function putJson(key: string, value: string, ...flags: string[]): Promise<{ code: number; body: Record<string, any>; stderr: string }> {
  const run = await qklzl(["kv", "put", key, value, ...addr(), "--json", ...flags]);
  return { code: run.code, body: run.code === 0 ? JSON.parse(run.stdout) : {}, stderr: run.stderr };
}

describe("qklzl kv list / get --revision / conditional put / txn / compact", () => {
  test("kv list prints a table, -w simple, --json, --limit with more, --keys-only", async () => {
    for (const [k, v] of [["app/a", "1"], ["app/b", "two"], ["app/c", "3"], ["zzz", "x"]]) {
      expect((await qklzl(["kv", "put", k!, v!, ...addr()])).code).toBe(0);
    }
    const tableRun = await qklzl(["kv", "list", "app/", ...addr()]);
    expect(tableRun.code).toBe(0);
    const lines = tableRun.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^KEY\s+VALUE\s+CREATE\s+MOD\s+VERSION$/);
    expect(lines.slice(1, 4).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([["app/a", "1"], ["app/b", "two"], ["app/c", "3"]]);
    expect(lines[4]).toMatch(/^\(3 keys at revision \d+\)$/);
    const simple = await qklzl(["kv", "list", "app/", "-w", "simple", ...addr()]);
    expect(simple.stdout).toBe("app/a\n1\napp/b\ntwo\napp/c\n3\n");
    const limited = JSON.parse((await qklzl(["kv", "list", "app/", "--limit", "2", "--keys-only", "--json", ...addr()])).stdout);
    expect(limited.kvs.map((kv: { key: string; value: string }) => [kv.key, kv.value])).toEqual([["app/a", ""], ["app/b", ""]]);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(3);
  }, 60_000);

  test("kv get --revision reads history; kv list --revision too", async () => {
    const first = await putJson("hist", "old");
    await putJson("hist", "new");
    expect((await qklzl(["kv", "get", "hist", ...addr()])).stdout).toBe("new\n");
    expect((await qklzl(["kv", "get", "hist", "--revision", String(first.body.revision), ...addr()])).stdout).toBe("old\n");
    const json = JSON.parse((await qklzl(["kv", "get", "hist", "--revision", String(first.body.revision), "--json", ...addr()])).stdout);
    expect(json).toMatchObject({ key: "hist", value: "old", mod_revision: first.body.revision, version: 1 });
    const before = await qklzl(["kv", "get", "hist", "--revision", String(first.body.revision - 1), ...addr()]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain("key_not_found");
  }, 60_000);

  test("kv put --if-mod-revision is a compare-and-set; --if-absent creates only; --if-value; failures exit 1 with compare_failed", async () => {
    const base = await putJson("cas", "v1");
    const ok = await putJson("cas", "v2", "--if-mod-revision", String(base.body.revision), "--prev-kv");
    expect(ok.code).toBe(0);
    expect(ok.body.prev_kv.value).toBe("v1");
    const stale = await qklzl(["kv", "put", "cas", "v3", "--if-mod-revision", String(base.body.revision), ...addr()]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("compare_failed");
    expect(stale.stderr).toContain(`mod_revision ${ok.body.revision}`);
    expect((await qklzl(["kv", "put", "cas", "x", "--if-absent", ...addr()])).code).toBe(1);
    expect((await qklzl(["kv", "put", "lock1", "me", "--if-absent", ...addr()])).code).toBe(0);
    expect((await qklzl(["kv", "delete", "lock1", "--if-value", "you", ...addr()])).code).toBe(1);
    expect((await qklzl(["kv", "delete", "lock1", "--if-value", "me", ...addr()])).code).toBe(0);
    const both = await qklzl(["kv", "put", "cas", "x", "--if-absent", "--if-value", "v", ...addr()]);
    expect(both.code).toBe(2);
  }, 60_000);

  test("kv put --request-id: running the same command twice applies once", async () => {
    const first = await putJson("idem", "1", "--request-id", "test-idem-1");
    const second = await putJson("idem", "1", "--request-id", "test-idem-1");
    expect(second.body.revision).toBe(first.body.revision);
    const kv = JSON.parse((await qklzl(["kv", "get", "idem", "--json", ...addr()])).stdout);
    expect(kv.version).toBe(1);
  }, 60_000);

  test("txn from stdin and from a file; compact; a read below it fails with compacted", async () => {
    const base = await putJson("t", "0");
    const txn = JSON.stringify({
      compare: [{ key: "t", target: "value", result: "=", value: "0" }],
      success: [{ put: { key: "t", value: "1" } }],
      failure: [{ range: { key: "t" } }],
    });
    const won = await qklzl(["txn", ...addr()], txn);
    expect(won.code).toBe(0);
    expect(won.stdout).toMatch(/^SUCCEEDED \(revision \d+, index \d+\)\n/);
    const file = join(cluster.root, "txn.json");
    await Bun.write(file, txn);
    const lost = JSON.parse((await qklzl(["txn", file, "--json", ...addr()])).stdout);
    expect(lost.succeeded).toBe(false);
    expect(lost.responses[0].range.kvs[0].value).toBe("1");
    const compacted = await qklzl(["compact", String(base.body.revision + 1), ...addr()]);
    expect(compacted.code).toBe(0);
    expect(compacted.stdout).toContain(`compacted at revision ${base.body.revision + 1}`);
    const gone = await qklzl(["kv", "get", "t", "--revision", String(base.body.revision), ...addr()]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("compacted");
    const badJson = await qklzl(["txn", ...addr()], "{not json");
    expect(badJson.code).toBe(2);
  }, 60_000);
});
