import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fastFlags, waitFor } from "../../scenarios/harness.ts";
import { EtcdCluster } from "./etcd_support.ts";

// Issue 14 with issue 13's leases: the real etcdctl (3.4) against a 3-node cluster of the binary, through
// followers: lease grant / put --lease / timetolive --keys / keep-alive --once / list / revoke (its keys go),
// a lease that expires takes its keys, `lock NAME CMD` (two holders never overlap) and `elect NAME PROPOSAL`
// with `elect -l`, which are etcd's concurrency recipes over leases, watch and txns on create revision.
// Skipped, saying so, without etcdctl.

const etcdctl = Bun.which("etcdctl");
if (etcdctl === null) {
  console.log("SKIP test/cluster/etcdctl_lease.test.ts: etcdctl not found on PATH (install it: apt-get install -y etcd-client)");
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Child: a long-running etcdctl (lock, elect) whose output is collected as it comes. */
interface Child {
  proc: ReturnType<typeof Bun.spawn>;
  out(): string;
  err(): string;
  until(what: string, test: (out: string) => boolean, deadlineMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

describe.skipIf(etcdctl === null)("etcdctl leases, lock and elect against qklzl", () => {
  let cluster: EtcdCluster;
  const children: Child[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "qklzl-etcdctl-lease-"));

  beforeAll(async () => {
    cluster = new EtcdCluster({ name: "etcdctl-lease", extraArgs: fastFlags });
    await cluster.explain(() => cluster.startFresh());
  }, 60_000);

  afterAll(async () => {
    for (const child of children) await child.stop("SIGKILL");
    await cluster?.destroy();
    rmSync(scratch, { recursive: true, force: true });
  });

  const argv = (endpoints: number[], args: string[]) => [
    etcdctl!,
    `--endpoints=${endpoints.map((id) => cluster.grpcAddr(id)).join(",")}`,
    "--dial-timeout=5s",
    "--command-timeout=10s",
    ...args,
  ];

  async function run(endpoints: number[], ...args: string[]): Promise<Run> {
    const proc = Bun.spawn(argv(endpoints, args), { env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, out: out.trim(), err: err.trim() };
  }

  async function ok(endpoints: number[], ...args: string[]): Promise<string> {
    const result = await run(endpoints, ...args);
    if (result.code !== 0) throw new Error(`etcdctl ${args.join(" ")} exited ${result.code}: ${result.err}`);
    return result.out;
  }

  function spawn(endpoints: number[], ...args: string[]): Child {
    const proc = Bun.spawn(argv(endpoints, args), { env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
    let out = "";
    let err = "";
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const chunk of proc.stdout) out += decoder.decode(chunk, { stream: true });
    })();
    const readingErr = (async () => {
      for await (const chunk of proc.stderr) err += decoder.decode(chunk, { stream: true });
    })();
    const child: Child = {
      proc,
      out: () => out,
      err: () => err,
      async until(what, test, deadlineMs = 15_000) {
        await waitFor(async () => (test(out) ? true : proc.exitCode !== null ? true : null), { deadlineMs, what: `${what} (stderr: ${err})` });
        if (!test(out)) throw new Error(`etcdctl ${args.join(" ")} exited ${proc.exitCode} before ${what}: ${err}`);
        return out;
      },
      async stop(signal = "SIGTERM") {
        if (proc.exitCode === null) proc.kill(signal);
        const code = await proc.exited;
        await Promise.all([reading, readingErr]);
        return code;
      },
    };
    children.push(child);
    return child;
  }

  async function followers(): Promise<number[]> {
    const view = await cluster.waitForLeader({ deadlineMs: 15_000 });
    return [1, 2, 3].filter((id) => id !== view.leaderId);
  }

  /** granted: the hex id of `lease grant TTL`'s answer ("lease 694d... granted with TTL(30s)"). */
  async function grant(endpoints: number[], ttl: number): Promise<string> {
    const out = await ok(endpoints, "lease", "grant", String(ttl));
    const match = /^lease ([0-9a-f]+) granted with TTL\(([0-9]+)s\)$/.exec(out);
    if (match === null) throw new Error(`unexpected lease grant answer: ${out}`);
    expect(Number(match[2])).toBe(ttl);
    return match[1]!;
  }

  test("lease grant, put --lease, timetolive --keys, keep-alive --once, list, revoke (the keys go): all through followers", async () => {
    const [f1, f2] = await followers();
    const id = await grant([f1!], 30);
    expect(await ok([f2!], "put", "--lease", id, "svc/a", "up")).toBe("OK");
    expect(await ok([f1!], "put", `--lease=${id}`, "svc/b", "up")).toBe("OK");
    const json = JSON.parse(await ok([f2!], "get", "svc/a", "-w", "json")) as { kvs: Array<{ lease: number }> };
    expect(json.kvs[0]!.lease).toBe(Number.parseInt(id, 16)); // etcdctl prints ids as 16 hex digits
    const ttl = await ok([f2!], "lease", "timetolive", id, "--keys");
    const ttlMatch = /^lease ([0-9a-f]+) granted with TTL\(30s\), remaining\(([0-9]+)s\), attached keys\(\[(.*)\]\)$/.exec(ttl);
    expect(ttlMatch, ttl).not.toBeNull();
    expect(ttlMatch![1]).toBe(id);
    expect(Number(ttlMatch![2])).toBeGreaterThan(20);
    expect(ttlMatch![3]!.split(" ").sort()).toEqual(["svc/a", "svc/b"]);
    expect(await ok([f1!], "lease", "keep-alive", "--once", id)).toBe(`lease ${id} keepalived with TTL(30)`);
    const list = await ok([f2!], "lease", "list");
    expect(list.split("\n")[0]).toMatch(/^found [0-9]+ leases$/);
    expect(list.split("\n").slice(1)).toContain(id);
    expect(await ok([f1!], "lease", "revoke", id)).toBe(`lease ${id} revoked`);
    expect(await ok([f2!], "get", "--prefix", "svc/")).toBe("");
    expect(await ok([f2!], "lease", "timetolive", id)).toBe(`lease ${id} already expired`);
    expect((await ok([f1!], "lease", "list")).split("\n").slice(1)).not.toContain(id);
    // etcd's errors, as etcdctl prints them.
    const again = await run([f1!], "lease", "revoke", id);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain("etcdserver: requested lease not found");
    const unknown = await run([f2!], "put", "--lease", id, "svc/c", "x");
    expect(unknown.err).toContain("etcdserver: requested lease not found");
    const keepGone = await run([f2!], "lease", "keep-alive", "--once", id);
    expect(keepGone.code).not.toBe(0);
    expect(`${keepGone.out}\n${keepGone.err}`).toContain("requested lease not found");
  });

  test("a lease nobody keeps alive expires (decided by the leader) and its keys are deleted on every member", async () => {
    const [f1, f2] = await followers();
    const started = performance.now(); // the leader starts the TTL when it applies the grant: after this
    const id = await grant([f1!], 2);
    await ok([f1!], "put", "--lease", id, "ephemeral/1", "x");
    await ok([f1!], "put", "--lease", id, "ephemeral/2", "y");
    expect(await ok([f2!], "get", "--prefix", "ephemeral/", "--keys-only")).toBe("ephemeral/1\n\nephemeral/2");
    await waitFor(async () => ((await ok([f2!], "get", "--prefix", "ephemeral/", "--keys-only")) === "" ? true : null), {
      deadlineMs: 15_000,
      what: "the expired lease's keys to be deleted",
    });
    // Not before its TTL (2 s from the grant); each member's own state (serializable) agrees.
    expect(performance.now() - started).toBeGreaterThanOrEqual(2000);
    for (const id of [1, 2, 3]) {
      await waitFor(async () => ((await ok([id], "get", "--prefix", "ephemeral/", "--consistency=s")) === "" ? true : null), {
        deadlineMs: 5_000,
        what: `member ${id} to apply the expiry`,
      });
    }
    expect(await ok([f2!], "lease", "timetolive", id)).toBe(`lease ${id} already expired`);
  });

  test("lock NAME CMD: the second holder runs only after the first released; each holder's key is NAME/<lease>", async () => {
    const [f1, f2] = await followers();
    const log = join(scratch, "lock.log");
    // A script file, not `sh -c`: etcdctl would read the command's "-c" as its own flag.
    const script = join(scratch, "hold.sh");
    await Bun.write(script, `#!/bin/sh\necho "$1 in $ETCD_LOCK_KEY" >> ${log}\nsleep 1.5\necho "$1 out" >> ${log}\n`);
    chmodSync(script, 0o755);
    const holder = (name: string, via: number) => spawn([via], "lock", "--ttl=5", "mylock", script, name);
    const first = holder("A", f1!);
    await waitFor(async () => (readFileSync(log, { encoding: "utf8", flag: "a+" }).includes("A in") ? true : null), { deadlineMs: 15_000, what: "A to hold the lock" });
    const second = holder("B", f2!);
    expect(await first.proc.exited).toBe(0); // A's command ran to its end, then etcdctl released
    await waitFor(async () => (second.proc.exitCode !== null ? true : null), { deadlineMs: 20_000, what: "B to run and release" });
    expect(second.proc.exitCode).toBe(0);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines.map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual(["A in", "A out", "B in", "B out"]);
    expect(lines[0]).toMatch(/^A in mylock\/[0-9a-f]+$/);
    expect(lines[2]).toMatch(/^B in mylock\/[0-9a-f]+$/);
    expect(await ok([f1!], "get", "--prefix", "mylock/")).toBe(""); // both released their keys
  }, 60_000);

  test("lock NAME: a second etcdctl blocks while the first holds; killing the holder (kill -9) releases it when its lease expires", async () => {
    const [f1, f2] = await followers();
    const first = spawn([f1!], "lock", "--ttl=2", "blocker");
    const firstKey = (await first.until("the first to take the lock", (out) => /blocker\/[0-9a-f]+/.test(out))).trim();
    const second = spawn([f2!], "lock", "--ttl=2", "blocker");
    await Bun.sleep(1500);
    expect(second.out()).toBe(""); // still waiting on the first holder's key
    await first.stop("SIGKILL"); // no release: only the lease's expiry (about 2 s, decided by the leader) frees it
    const secondKey = (await second.until("the second to take the lock", (out) => /blocker\/[0-9a-f]+/.test(out), 20_000)).trim();
    expect(secondKey).not.toBe(firstKey);
    expect(await ok([f1!], "get", firstKey)).toBe(""); // the dead holder's key expired with its lease
    await second.stop("SIGINT");
  }, 60_000);

  test("elect NAME PROPOSAL and elect -l: one leader at a time; when it stops, the next campaigner wins and observers see it", async () => {
    const [f1, f2] = await followers();
    const first = spawn([f1!], "elect", "election", "p1");
    await first.until("p1 to be elected", (out) => out.includes("p1"));
    expect(first.out()).toMatch(/^election\/[0-9a-f]+\np1\n$/);
    const second = spawn([f2!], "elect", "election", "p2");
    const listener = spawn([f2!], "elect", "-l", "election");
    await listener.until("the listener to see p1", (out) => out.includes("p1"));
    await Bun.sleep(1000);
    expect(second.out()).toBe(""); // campaigning, not elected
    expect(await first.stop("SIGINT")).toBe(0); // resigns: its key is deleted with its lease
    await second.until("p2 to be elected", (out) => out.includes("p2"), 20_000);
    await listener.until("the listener to see p2", (out) => out.includes("p2"), 20_000);
    const seen = listener.out().trim().split("\n").filter((_, i) => i % 2 === 1);
    expect(seen).toEqual(["p1", "p2"]);
    await second.stop("SIGINT");
    await listener.stop("SIGINT");
  }, 60_000);
});
