// `bun scripts/bench_leases.ts [seconds]`: lease grant and keepalive rates over HTTP, 32 closed-loop clients,
// against a local 3-node qklzl cluster (bin/qklzl) and, when etcd is on PATH, a local 3-member etcd through its
// HTTP gateway (/v3/lease/grant, /v3/lease/keepalive), one system at a time. Both with default durability.
// Prints one line per figure; a figure whose system is missing says so.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchCluster } from "../src/cli/bench/cluster.ts";

const root = join(import.meta.dir, "..");
const seconds = Number(process.argv[2] ?? "5");
const clients = 32;

interface Rate {
  ops: number;
  errors: number;
  perSecond: number;
  p99ms: number;
}

/** closedLoop runs `op` from `clients` loops for `seconds` and reports the rate and p99 of the successes. */
async function closedLoop(op: (client: number, i: number) => Promise<boolean>): Promise<Rate> {
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; performance.now() < end; i++) {
        const start = performance.now();
        if (await op(client, i)) latencies.push(performance.now() - start);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, errors, perSecond: latencies.length / seconds, p99ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0 };
}

async function post(url: string, body: unknown): Promise<Record<string, unknown> | null> {
  try {
    const response = await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    const json = (await response.json()) as Record<string, unknown>;
    return response.ok ? json : null;
  } catch {
    return null;
  }
}

function show(system: string, what: string, r: Rate): void {
  console.log(`${system.padEnd(6)} ${what.padEnd(10)} ${r.perSecond.toFixed(0).padStart(7)} ops/s  p99 ${r.p99ms.toFixed(1).padStart(6)} ms  (${r.ops} ok, ${r.errors} errors, ${clients} clients, ${seconds} s)`);
}

async function benchQklzl(): Promise<void> {
  const binary = join(root, "bin", "qklzl");
  if (!existsSync(binary)) {
    console.log("qklzl: skipped (no bin/qklzl: bun run build)");
    return;
  }
  const cluster = benchCluster({ command: [binary] });
  try {
    const view = await cluster.startFresh();
    const base = `http://${cluster.node(view.leaderId).httpAddr}`;
    const ids: number[][] = Array.from({ length: clients }, () => []);
    show("qklzl", "grant", await closedLoop(async (client) => {
      const answer = await post(`${base}/lease/grant`, { ttl: 600 });
      if (answer !== null) ids[client]!.push(answer.id as number);
      return answer !== null;
    }));
    show("qklzl", "keepalive", await closedLoop(async (client, i) => {
      const mine = ids[client]!;
      return (await post(`${base}/lease/keepalive`, { id: mine[i % mine.length] })) !== null;
    }));
  } finally {
    await cluster.destroy();
  }
}

async function benchEtcd(): Promise<void> {
  // ../shared from the main checkout (as scripts/bench.ts), ../../shared from a worktree under wt/.
  const script = [join(root, "..", "shared"), join(root, "..", "..", "shared")].map((d) => join(d, "bench", "etcd-cluster.sh")).find(existsSync) ?? "";
  if (Bun.which("etcd") === null || !existsSync(script)) {
    console.log("etcd: skipped (no etcd on PATH or no etcd-cluster.sh)");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "etcd-lease-bench-"));
  const env = { ...process.env, ETCD_BENCH_DIR: join(dir, "etcd"), ETCD_CLIENT_BASE: "24791", ETCD_PEER_BASE: "24801" };
  const run = (arg: string) => Bun.spawnSync(["bash", script, arg], { env, stdout: "pipe", stderr: "pipe" });
  try {
    const started = run("start");
    if (started.exitCode !== 0) {
      console.log(`etcd: skipped (start failed: ${started.stderr.toString().trim()})`);
      return;
    }
    const leader = run("leader").stdout.toString().trim();
    const base = leader.startsWith("http") ? leader : `http://${leader}`;
    const ids: string[][] = Array.from({ length: clients }, () => []);
    show("etcd", "grant", await closedLoop(async (client) => {
      const answer = await post(`${base}/v3/lease/grant`, { TTL: 600 });
      if (answer !== null) ids[client]!.push(answer.ID as string);
      return answer !== null;
    }));
    show("etcd", "keepalive", await closedLoop(async (client, i) => {
      const mine = ids[client]!;
      return (await post(`${base}/v3/lease/keepalive`, { ID: mine[i % mine.length] })) !== null;
    }));
  } finally {
    run("stop");
    rmSync(dir, { recursive: true, force: true });
  }
}

await benchQklzl();
await benchEtcd();
