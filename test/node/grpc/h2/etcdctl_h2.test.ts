import { describe, expect, test } from "bun:test";
import { oneNodeForEtcdctl } from "../etcdctl_node.ts";

// The real etcdctl (Go's HTTP/2 and HPACK, Huffman-coded and indexed headers) against the plaintext endpoint,
// which src/node/grpc/h2/ serves: many calls on one connection (the dynamic table fills and evicts), a value
// larger than a frame and than Go's initial stream window both ways, and a watch that receives many events.

const one = oneNodeForEtcdctl();
const { etcdctl, skip } = one;

/** run: etcdctl as a child process, awaited (the node serving it runs in this process: never spawnSync). */
async function run(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  const child = Bun.spawn([etcdctl!, `--endpoints=${one.endpoint}`, "--command-timeout=10s", ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out: `${out}${err}` };
}

/** events: puts the watch must see (one etcdctl process each). */
const events = 100;

describe.skipIf(skip !== null)("etcdctl against the h2/ server", () => {
  test("a 300 KB value goes in (stdin) and comes back whole", async () => {
    const value = Array.from({ length: 300_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
    const put = await run(["put", "big"], value);
    expect(put.out.trim()).toBe("OK");
    const got = await run(["get", "big", "--print-value-only"]);
    expect(got.code).toBe(0);
    expect(got.out.trim()).toBe(value);
  }, 60_000);

  test("txn, range with limit, and del over one connection each; a watch sees 100 events in order", async () => {
    const watcher = Bun.spawn([etcdctl!, `--endpoints=${one.endpoint}`, "watch", "--prefix", "w/"], { env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(500);
    for (let i = 0; i < events; i++) {
      const r = await run(["put", `w/${String(i).padStart(3, "0")}`, `value-${i}`]);
      if (r.code !== 0) throw new Error(r.out);
    }
    const limited = await run(["get", "w/", "--prefix", "--limit=5", "--keys-only"]);
    expect(limited.out.trim().split(/\n+/)).toEqual(["w/000", "w/001", "w/002", "w/003", "w/004"]);
    const txn = await run(["txn"], 'value("w/000") = "value-0"\n\nput w/txn yes\n\nput w/txn no\n\n');
    expect(txn.out).toContain("SUCCESS");
    expect((await run(["del", "w/", "--prefix"])).out.trim()).toBe(String(events + 1));
    await Bun.sleep(500);
    watcher.kill();
    const out = await new Response(watcher.stdout).text();
    // etcdctl prints each event as "PUT|DELETE", the key, then the value (PUT only).
    const outLines = out.split("\n");
    const puts = outLines.flatMap((line, i) => (line === "PUT" && outLines[i + 1] !== "w/txn" ? [outLines[i + 1]] : []));
    expect(puts).toEqual(Array.from({ length: events }, (_, i) => `w/${String(i).padStart(3, "0")}`));
    expect(out.split("\n").filter((line) => line === "DELETE")).toHaveLength(events + 1);
  }, 120_000);
});
