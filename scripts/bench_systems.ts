// bench_systems.ts: the two systems the etcd3-client benchmarks (bench_watch.ts, bench_leases.ts) measure in
// one run, one after the other: a throw-away 3-node qklzl cluster with its etcd v3 gRPC endpoint on, and the
// 3-member etcd of ../shared/bench/etcd-cluster.sh (default durability, its own ports and temp dir). Each
// system is up only while its callback runs, so the two never share the 2 cores.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchCluster } from "../src/cli/bench/cluster.ts";
import { freePort } from "../src/cli/launcher/ports.ts";

/** Endpoints: gRPC hosts (host:port, no scheme: Bun's HTTP/2 server resets an :authority with one) and HTTP bases. */
export interface Endpoints {
  /** leaderGrpc, leaderHttp: the leader's (every figure loads the leader, in both systems). */
  leaderGrpc: string;
  leaderHttp: string;
  grpc: string[];
}

const root = join(import.meta.dir, "..");

/** withQklzl runs `body` against a fresh 3-node cluster of `binary` (gRPC on), destroyed afterwards. */
export async function withQklzl<T>(binary: string, body: (endpoints: Endpoints) => Promise<T>): Promise<T | string> {
  if (!existsSync(binary)) return "skipped (no bin/qklzl: bun run build)";
  const grpc = new Map<number, string>();
  const cluster = benchCluster({
    command: [binary],
    nodeArgs: (id) => {
      if (!grpc.has(id)) grpc.set(id, `127.0.0.1:${freePort()}`);
      return ["--grpc-addr", grpc.get(id)!];
    },
  });
  try {
    const view = await cluster.startFresh();
    const leader = cluster.node(view.leaderId);
    return await body({ leaderGrpc: grpc.get(view.leaderId)!, leaderHttp: `http://${leader.httpAddr}`, grpc: [...grpc.values()] });
  } finally {
    await cluster.destroy();
  }
}

/** withEtcd runs `body` against a fresh 3-member etcd (../shared/bench/etcd-cluster.sh), stopped afterwards. */
export async function withEtcd<T>(body: (endpoints: Endpoints) => Promise<T>): Promise<T | string> {
  // ../shared from the main checkout (as scripts/bench.ts), ../../shared from a worktree under wt/.
  const script = [join(root, "..", "shared"), join(root, "..", "..", "shared")].map((d) => join(d, "bench", "etcd-cluster.sh")).find(existsSync) ?? "";
  if (Bun.which("etcd") === null || script === "") return "skipped (no etcd on PATH or no etcd-cluster.sh: apt-get install -y etcd-server)";
  const dir = mkdtempSync(join(tmpdir(), "etcd-bench-"));
  const env = { ...process.env, ETCD_BENCH_DIR: join(dir, "etcd"), ETCD_CLIENT_BASE: "24791", ETCD_PEER_BASE: "24801" };
  const run = (arg: string) => Bun.spawnSync(["bash", script, arg], { env, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  try {
    const started = run("start");
    if (started.exitCode !== 0) return `skipped (etcd start failed: ${started.stderr.toString().trim().slice(0, 200)})`;
    const bare = (url: string) => url.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
    const leader = bare(run("leader").stdout.toString());
    const grpc = run("endpoints").stdout.toString().trim().split(",").map(bare);
    return await body({ leaderGrpc: leader, leaderHttp: `http://${leader}`, grpc });
  } finally {
    run("stop");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** percentile of sorted samples (nearest rank); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** withTimeout: `promise`, or a rejection after `ms` (every step of a benchmark is bounded). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
