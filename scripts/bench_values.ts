// The large-value rows of `npm run bench` (step "values", issue 16's "Large values" goal): puts at 16 KiB (64
// connections, 2,000 keys), 64 KiB (64 connections, 500 keys) and 1 MiB (16 connections, 32 keys: wrk holds every
// prebuilt request, and each node keeps up to --snapshot-entries entries in memory, so the 1 MiB runs use
// --snapshot-entries 1000 --trailing-entries 200 to stay near 1 GiB per node), each three ways in this same run:
// qklzl's JSON route (POST /kv, ../shared/bench/qklzl-put.lua), qklzl's raw route (PUT /kv/KEY with an
// octet-stream body, scripts/wrk/qklzl-put-raw.lua), and a 3-member etcd through its JSON gateway
// (../shared/bench/etcd-put.lua, base64 values). Each row gives puts/s, p99 and MB/s of values, and the disk's
// sequential write bandwidth measured with fio just before (1 MiB blocks + fdatasync): three replicas share this
// one disk, and qklzl writes each value once per replica (WAL), etcd twice (WAL + bbolt). A system whose wrk saw
// answers of 400 or above, or no result, says so instead of figures. Missing wrk/etcd/fio gives "skipped".
// `bun scripts/bench_values.ts` prints the rows without writing BENCHMARKS.md (BENCH_BINARY: another build).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { benchCluster } from "../src/cli/bench/cluster.ts";

export type Row = (figure: string, qklzl: string, etcd: string, note: string) => void;

const here = import.meta.dir;
const shared = process.env.SHARED_BENCH_DIR ?? join(here, "..", "..", "shared", "bench");
const raw_script = join(here, "wrk", "qklzl-put-raw.lua");
const json_script = join(shared, "qklzl-put.lua");
const etcd_script = join(shared, "etcd-put.lua");
const etcd_cluster = join(shared, "etcd-cluster.sh");

interface Size {
  name: string;
  bytes: number;
  keys: number;
  connections: number;
  extraArgs: string[];
}

const sizes: Size[] = [
  { name: "16 KiB", bytes: 16384, keys: 2000, connections: 64, extraArgs: [] },
  { name: "64 KiB", bytes: 65536, keys: 500, connections: 64, extraArgs: [] },
  { name: "1 MiB", bytes: 1048576, keys: 32, connections: 16, extraArgs: ["--snapshot-entries", "1000", "--trailing-entries", "200"] },
];

interface WrkResult {
  rps: number;
  p99: number;
  non2xx: number;
}

function field(line: string, name: string): number {
  return Number(new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1] ?? "NaN");
}

function runWrk(script: string, url: string, size: Size, seconds: number): WrkResult | string {
  const env = { ...process.env, BENCH_VALUE_SIZE: String(size.bytes), BENCH_KEYS: String(size.keys) };
  const args = (d: number) => ["wrk", "-t2", `-c${size.connections}`, `-d${d}s`, "--timeout", "10s", "--latency", "-s", script, url];
  Bun.spawnSync(args(2), { env, stdout: "ignore", stderr: "ignore", timeout: 60_000 }); // warm-up
  const run = Bun.spawnSync(args(seconds), { env, stdout: "pipe", stderr: "pipe", timeout: (seconds + 60) * 1000 });
  const line = run.stdout.toString().split("\n").find((l) => l.startsWith("WRKRESULT"));
  if (line === undefined) return `wrk gave no result (exit ${run.exitCode}): ${run.stderr.toString().trim().slice(0, 200)}`;
  return { rps: field(line, "rps"), p99: field(line, "p99_ms"), non2xx: field(line, "non2xx") };
}

function describe(result: WrkResult | string, size: Size): string {
  if (typeof result === "string") return result;
  if (result.non2xx > 0) return `${result.non2xx} answers of 400 or above: no figure`;
  return `${result.rps.toFixed(0)}/s p99 ${result.p99.toFixed(1)} ms, ${((result.rps * size.bytes) / 1e6).toFixed(1)} MB/s of values`;
}

/** fioMBps: sequential write bandwidth of the temp dir's disk, `block` bytes per write, fdatasync after each. */
function fioMBps(block: string, seconds: number): number | null {
  if (!Bun.which("fio")) return null;
  const dir = mkdtempSync(join(tmpdir(), "qklzl-fio-"));
  try {
    const run = Bun.spawnSync(
      ["fio", "--name=seq", `--directory=${dir}`, "--rw=write", `--bs=${block}`, "--size=512m", "--ioengine=sync", "--fdatasync=1", `--runtime=${seconds}`, "--time_based", "--output-format=json"],
      { stdout: "pipe", stderr: "ignore", timeout: (seconds + 60) * 1000 },
    );
    const parsed = JSON.parse(run.stdout.toString()) as { jobs: Array<{ write: { bw_bytes: number } }> };
    return parsed.jobs[0]!.write.bw_bytes / 1e6;
  } catch {
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function qklzlRuns(binary: string, size: Size, seconds: number): Promise<{ json: WrkResult | string; raw: WrkResult | string }> {
  const cluster = benchCluster({ command: [binary], extraArgs: size.extraArgs });
  try {
    const { leaderId } = await cluster.startFresh();
    const url = `http://${cluster.node(leaderId).httpAddr}`;
    const json = runWrk(json_script, url, size, seconds);
    const raw = runWrk(raw_script, url, size, seconds);
    return { json, raw };
  } finally {
    await cluster.destroy();
  }
}

function etcdRun(size: Size, seconds: number): WrkResult | string {
  const dir = mkdtempSync(join(tmpdir(), "qklzl-etcd-values-"));
  const env = { ...process.env, ETCD_BENCH_DIR: join(dir, "etcd") };
  try {
    const start = Bun.spawnSync(["bash", etcd_cluster, "start"], { env, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    if (start.exitCode !== 0) return `etcd did not start: ${start.stderr.toString().trim().slice(0, 200)}`;
    const leader = Bun.spawnSync(["bash", etcd_cluster, "leader"], { env, stdout: "pipe", stderr: "ignore" }).stdout.toString().trim();
    return runWrk(etcd_script, leader, size, seconds);
  } finally {
    Bun.spawnSync(["bash", etcd_cluster, "stop"], { env, stdout: "ignore", stderr: "ignore", timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function valuesRows(row: Row, options: { binary: string; seconds: number; loadNote: () => string }): Promise<void> {
  const missing = ["wrk", "etcd", "etcdctl"].filter((tool) => !Bun.which(tool));
  if (missing.length > 0 || !existsSync(etcd_cluster)) {
    row("puts of large values (16 KiB, 64 KiB, 1 MiB)", "skipped", "skipped", `missing: ${missing.join(" ") || etcd_cluster}`);
    return;
  }
  const disk1m = fioMBps("1m", 10);
  const disk16k = fioMBps("16k", 10);
  const disk =
    disk1m === null
      ? "disk bandwidth not measured (apt-get install -y fio)"
      : `disk (fio, sequential, fdatasync per write): ${disk1m.toFixed(0)} MB/s at 1 MiB blocks, ${disk16k?.toFixed(1) ?? "?"} MB/s at 16 KiB; 3 replicas share it: qklzl writes a value 3× (WAL), etcd 6× (WAL + bbolt)`;
  for (const size of sizes) {
    const load = options.loadNote();
    const { json, raw } = await qklzlRuns(options.binary, size, options.seconds);
    const etcd = etcdRun(size, options.seconds);
    const ratio = (a: WrkResult | string) => (typeof a === "string" || typeof etcd === "string" || a.non2xx > 0 || etcd.non2xx > 0 ? "n/a" : `${(a.rps / etcd.rps).toFixed(2)}×, p99 ${(a.p99 / etcd.p99).toFixed(2)}×`);
    row(
      `puts c=${size.connections}, ${size.name} values (${size.keys} keys)`,
      `JSON POST /kv: ${describe(json, size)}; raw PUT /kv/KEY: ${describe(raw, size)}`,
      describe(etcd, size),
      `vs etcd: JSON ${ratio(json)}, raw ${ratio(raw)}; ${disk}${size.extraArgs.length > 0 ? `; qklzl nodes ran with ${size.extraArgs.join(" ")}` : ""}; ${load} at start`,
    );
  }
}

if (import.meta.main) {
  const binary = process.env.BENCH_BINARY ?? join(here, "..", "bin", "qklzl");
  await valuesRows((figure, q, e, note) => console.log(`| ${figure} | ${q} | ${e} | ${note} |`), {
    binary,
    seconds: Number(process.env.BENCH_DURATION ?? "10"),
    loadNote: () => `load ${loadavg()[0]!.toFixed(1)}`,
  });
  process.exit(0);
}
