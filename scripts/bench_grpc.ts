// The etcd-protocol rows of `npm run bench` (step "grpc", issue 14's Figures): the same gRPC load against the
// leader of a 3-node qklzl (-grpc-addr) and of the 3-member etcd of ../shared/bench/etcd-cluster.sh, in one run.
// Both clusters run for the whole bench and each step runs on one system right after the other (the order
// alternating), so a change in the shared machine's load touches both alike. The steps:
// - a closed loop of 64 concurrent KV.Put calls (100-byte values, 10,000 keys drawn at random), then 64
//   concurrent linearizable KV.Range calls over the same keys (filled first), each from two clients: the lean
//   one (src/cli/bench/grpc_raw_load.ts: our own HTTP/2 framing on raw TCP, prebuilt header blocks and
//   messages, every answer checked, latencies per call; the rows the goal is judged by) and Bun's node:http2
//   (grpc_load.ts, kept so nothing is hidden: it costs the shared cores several times more CPU per call);
// - the same puts from h2load (C, nghttp2), one prebuilt request on one key; h2load does not read grpc-status,
//   so the key's version before and after counts the puts that were really applied and the row reports that count.
// A row with any wrong answer says FAILED. Ports: QKLZL_HTTP_BASE/QKLZL_RAFT_BASE/QKLZL_GRPC_BASE for qklzl
// (fixed_ports.ts), ETCD_CLIENT_BASE/ETCD_PEER_BASE/ETCD_BENCH_DIR for etcd (etcd-cluster.sh); unset: free ports
// and etcd-cluster.sh's defaults. `bun scripts/bench_grpc.ts` prints the rows without writing BENCHMARKS.md
// (BENCH_BINARY: another build, e.g. a baseline). Every run is bounded in time; missing tools give "skipped" rows.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fillGrpc, type GrpcLoadOptions, type GrpcLoadResult, rangeOnce, runGrpcLoad } from "../src/cli/bench/grpc_load.ts";
import { runRawGrpcLoad } from "../src/cli/bench/grpc_raw_load.ts";
import { putFrame } from "../src/cli/bench/grpc_wire.ts";
import { cpuDuring } from "../src/cli/bench/proc_cpu.ts";
import { Launcher } from "../src/cli/launcher/index.ts";
import { benchAddrs } from "../src/cli/bench/fixed_ports.ts";

export type Row = (figure: string, qklzl: string, etcd: string, note: string) => void;

const here = import.meta.dir;
const sharedBench = process.env.BENCH_SHARED_DIR ?? join(here, "..", "..", "shared", "bench");
const keys = 10_000;
const value_size = 100;
const clients = 64;
/** connections: HTTP/2 connections the 64 calls share (etcd's clientv3 uses one per endpoint; 4 spreads etcd's per-connection goroutines a little). */
const connections = Number(process.env.BENCH_GRPC_CONNECTIONS ?? "4");
const h2load_key = "bench-h2load-key";

/** Measured: a load's result and the servers' CPU meanwhile (leader, and all members together). */
type Measured = GrpcLoadResult & { leaderCpuMs: number; clusterCpuMs: number };

/** Servers: the leader's gRPC address and the server processes (the leader first). */
interface Servers {
  addr: string;
  pids: number[];
}

interface SystemFigures {
  /** put, range: the lean client's; http2Put, http2Range: node:http2's. */
  put: Measured;
  range: Measured;
  http2Put: Measured;
  http2Range: Measured;
  /** h2load: requests/s h2load reports, and the puts the key's version says were applied. */
  h2load: { rps: number; succeeded: number; applied: number; seconds: number; leaderCpuMs: number } | string;
}

function log(message: string): void {
  process.stderr.write(`bench grpc: ${message}\n`);
}

/** h2loadPuts runs h2load with one prebuilt Put for `seconds` and checks it against the key's version. */
async function h2loadPuts(servers: Servers, seconds: number): Promise<SystemFigures["h2load"]> {
  const addr = servers.addr;
  if (!Bun.which("h2load")) return "skipped: no h2load (apt-get install -y nghttp2-client)";
  const dir = mkdtempSync(join(tmpdir(), "qklzl-h2load-"));
  try {
    const body = join(dir, "put.bin");
    writeFileSync(body, putFrame(h2load_key, new Uint8Array(value_size).fill(0x76)));
    const before = (await rangeOnce(addr, h2load_key)).version;
    const perConnection = Math.ceil(clients / connections);
    const argv = ["h2load", "-D", String(seconds), "-c", String(connections), "-m", String(perConnection), "-t", "1", "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", body, `http://${addr}/etcdserverpb.KV/Put`];
    const { result: run, cpuMs } = await cpuDuring(servers.pids.slice(0, 1), async () => Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", timeout: (seconds + 30) * 1000 }));
    const out = run.stdout.toString();
    const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out)?.[1] ?? "NaN");
    const succeeded = Number(/(\d+) succeeded/.exec(out)?.[1] ?? "NaN");
    const after = (await rangeOnce(addr, h2load_key)).version;
    return { rps, succeeded, applied: after - before, seconds, leaderCpuMs: cpuMs[0]! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Client = (options: GrpcLoadOptions) => Promise<GrpcLoadResult>;

async function measured(servers: Servers, op: "put" | "range", seconds: number, client: Client): Promise<Measured> {
  const { result, cpuMs } = await cpuDuring(servers.pids, () => client({ addr: servers.addr, op, clients, connections, durationMs: seconds * 1000, keys, valueSize: value_size }));
  return { ...result, leaderCpuMs: cpuMs[0]!, clusterCpuMs: cpuMs.reduce((a, b) => a + b, 0) };
}

/** Step: one measurement, run against each system in turn (see measureBoth). */
type Step<T> = (system: string, servers: Servers) => Promise<T>;

/**
 * each runs `step` on qklzl and etcd back to back (etcd first on odd steps), so both see the same minutes of a
 * shared machine's load; one system after the other for minutes each let a load change decide the ratio.
 */
async function each<T>(systems: Array<[string, Servers]>, index: number, step: Step<T>): Promise<T[]> {
  const order = index % 2 === 0 ? systems : [...systems].reverse();
  const out = new Map<string, T>();
  for (const [name, servers] of order) out.set(name, await step(name, servers));
  return systems.map(([name]) => out.get(name)!);
}

/** measureBoth: every figure for both systems (etcd: null when skipped), each step on both in turn. */
async function measureBoth(q: Servers, e: Servers | null, seconds: number): Promise<[SystemFigures, SystemFigures | null]> {
  const systems: Array<[string, Servers]> = e === null ? [["qklzl", q]] : [["qklzl", q], ["etcd", e]];
  let index = 0;
  const step = <T>(what: string, run: Step<T>) => {
    log(what);
    return each(systems, index++, async (system, servers) => {
      log(`  ${system}`);
      return await run(system, servers);
    });
  };
  await step("warm-up", (_, servers) => runRawGrpcLoad({ addr: servers.addr, op: "put", clients, connections, durationMs: 2_000, keys, valueSize: value_size }));
  const put = await step(`${clients} concurrent puts for ${seconds} s, lean client`, (_, servers) => measured(servers, "put", seconds, runRawGrpcLoad));
  const http2Put = await step(`${clients} concurrent puts for ${seconds} s, node:http2 client`, (_, servers) => measured(servers, "put", seconds, runGrpcLoad));
  await step(`filling ${keys} keys`, (_, servers) => fillGrpc(servers.addr, keys, value_size));
  const range = await step(`${clients} concurrent linearizable ranges for ${seconds} s, lean client`, (_, servers) => measured(servers, "range", seconds, runRawGrpcLoad));
  const http2Range = await step(`${clients} concurrent linearizable ranges for ${seconds} s, node:http2 client`, (_, servers) => measured(servers, "range", seconds, runGrpcLoad));
  const h2load = await step(`h2load puts for ${seconds} s`, (_, servers) => h2loadPuts(servers, seconds));
  const figures = (i: number): SystemFigures => ({ put: put[i]!, range: range[i]!, http2Put: http2Put[i]!, http2Range: http2Range[i]!, h2load: h2load[i]! });
  return [figures(0), e === null ? null : figures(1)];
}

/** withQklzl runs `work` with a fresh 3-node qklzl (gRPC on), the leader first in `pids`. */
async function withQklzl<T>(binary: string, work: (servers: Servers) => Promise<T>): Promise<T> {
  const { addrs, grpc } = benchAddrs();
  const cluster = new Launcher({ name: "bench-grpc", command: [binary], addrs, output: "ignore", env: { CONSOLA_LEVEL: "1" }, nodeArgs: (id) => ["-grpc-addr", grpc.get(id)!] });
  try {
    const { leaderId } = await cluster.startFresh();
    const pids = [leaderId, ...[1, 2, 3].filter((id) => id !== leaderId)].map((id) => cluster.node(id).proc!.pid);
    return await work({ addr: grpc.get(leaderId)!, pids });
  } finally {
    await cluster.destroy();
  }
}

/** withEtcd runs `work` with the 3-member etcd of etcd-cluster.sh (null, and why, when it cannot start). */
async function withEtcd<T>(work: (servers: Servers | null, skipped: string | null) => Promise<T>): Promise<T> {
  const script = join(sharedBench, "etcd-cluster.sh");
  const missing = ["etcd", "etcdctl"].filter((tool) => !Bun.which(tool));
  if (!existsSync(script) || missing.length > 0) return await work(null, `skipped: missing ${missing.join(" ") || script} (apt-get install -y etcd-server etcd-client)`);
  const started = Bun.spawnSync(["bash", script, "start"], { stdout: "ignore", stderr: "pipe", timeout: 120_000 });
  if (started.exitCode !== 0) return await work(null, `skipped: etcd-cluster.sh start failed: ${started.stderr.toString().trim().split("\n").pop()}`);
  try {
    const leader = Bun.spawnSync(["bash", script, "leader"], { stdout: "pipe", timeout: 30_000 }).stdout.toString().trim();
    const addr = leader.replace(/^https?:\/\//, "");
    // The pid file lists members in port order (m1 on ETCD_CLIENT_BASE, m2 on +1, ...): "PID STARTTIME" lines.
    const dir = process.env.ETCD_BENCH_DIR ?? join(process.env.TMPDIR ?? "/tmp", "etcdbench");
    const pids = readFileSync(join(dir, "pids"), "utf8").trim().split("\n").map((line) => Number(line.split(" ")[0]));
    const leaderAt = Number(addr.slice(addr.lastIndexOf(":") + 1)) - Number(process.env.ETCD_CLIENT_BASE ?? "23791");
    return await work({ addr, pids: [pids[leaderAt]!, ...pids.filter((_, i) => i !== leaderAt)] }, null);
  } finally {
    Bun.spawnSync(["bash", script, "stop"], { stdout: "ignore", stderr: "ignore", timeout: 60_000 });
  }
}

/** serverCpu: the servers' CPU per call (leader; the three members together), in µs. */
function serverCpu(r: Measured): string {
  return `${((r.leaderCpuMs * 1000) / r.ops).toFixed(0)} µs leader / ${((r.clusterCpuMs * 1000) / r.ops).toFixed(0)} µs cluster CPU per call`;
}

function describe(r: Measured): string {
  const failed = r.errors > 0 ? `FAILED: ${r.errors} wrong answers or errors (first: ${r.firstError}); ` : "";
  const l = r.latencyMs;
  return `${failed}${r.throughput.toFixed(0)}/s p50 ${l.p50.toFixed(2)} p90 ${l.p90.toFixed(2)} p99 ${l.p99.toFixed(2)} max ${l.max.toFixed(1)} ms; ${serverCpu(r)}`;
}

/** versus: the throughput ratio and whether qklzl's p99 is within etcd's (the goal: ≥ 2× with p99 ≤ etcd's). */
function versus(q: Measured, e: Measured): string {
  const p99 = `p99 ${q.latencyMs.p99.toFixed(2)} vs ${e.latencyMs.p99.toFixed(2)} ms (${q.latencyMs.p99 <= e.latencyMs.p99 ? "≤" : ">"} etcd's)`;
  return `${(q.throughput / e.throughput).toFixed(2)}× etcd, ${p99}`;
}

function clientCpu(r: GrpcLoadResult, seconds: number): string {
  return `${((r.clientCpuMs / (seconds * 1000)) * 100).toFixed(0)}%`;
}

function describeH2load(h: SystemFigures["h2load"]): string {
  if (typeof h === "string") return h;
  return `${h.rps.toFixed(0)}/s (${h.applied} puts applied, h2load counted ${h.succeeded}); ${((h.leaderCpuMs * 1000) / h.applied).toFixed(0)} µs leader CPU per put`;
}

/** grpcRows measures both systems and adds the rows (see the file comment). */
export async function grpcRows(row: Row, options: { binary: string; seconds: number; loadNote: () => string }): Promise<void> {
  const { seconds } = options;
  const load = options.loadNote();
  const [q, e] = await withQklzl(options.binary, (qklzl) =>
    withEtcd(async (etcd, skipped): Promise<[SystemFigures, SystemFigures | string]> => {
      const [qf, ef] = await measureBoth(qklzl, etcd, seconds);
      return [qf, ef ?? skipped!];
    }),
  );
  const etcd = (pick: (f: SystemFigures) => string) => (typeof e === "string" ? e : pick(e));
  const note = `leader's gRPC port, h2c, ${clients} calls in flight over ${connections} connections, ${keys} keys × ${value_size} B, ${seconds} s each, both systems up, each step on one then the other (order alternating); ${load} at start, ${options.loadNote()} at end`;
  const cpu = (pick: (f: SystemFigures) => GrpcLoadResult) => `client CPU qklzl ${clientCpu(pick(q), seconds)} / etcd ${typeof e === "string" ? "n/a" : clientCpu(pick(e), seconds)} of a core`;
  const rows: Array<[string, (f: SystemFigures) => Measured]> = [
    ["etcd protocol: KV.Put c=64 (lean HTTP/2 client on raw TCP, checked answers)", (f) => f.put],
    ["etcd protocol: linearizable KV.Range c=64 (lean HTTP/2 client on raw TCP, checked answers)", (f) => f.range],
    ["etcd protocol: KV.Put c=64 (Bun node:http2 client, checked answers; client-bound)", (f) => f.http2Put],
    ["etcd protocol: linearizable KV.Range c=64 (Bun node:http2 client; client-bound)", (f) => f.http2Range],
  ];
  for (const [figure, pick] of rows) {
    row(figure, describe(pick(q)), etcd((f) => describe(pick(f))), `${typeof e === "string" ? "n/a" : versus(pick(q), pick(e))}; ${cpu(pick)}; ${note}`);
  }
  row(
    "etcd protocol: KV.Put c=64 (h2load, one prebuilt request, one key)",
    describeH2load(q.h2load),
    etcd((f) => describeH2load(f.h2load)),
    `${typeof q.h2load === "string" || typeof e === "string" || typeof e.h2load === "string" ? "n/a" : `${(q.h2load.rps / e.h2load.rps).toFixed(2)}× etcd`}; throughput only (h2load gives no percentiles); ${note}`,
  );
}

if (import.meta.main) {
  const binary = process.env.BENCH_BINARY ?? join(here, "..", "bin", "qklzl");
  const loadNote = () => `load ${loadavg()[0]!.toFixed(1)}`;
  await grpcRows((figure, qklzl, etcd, note) => console.log(`| ${figure} | ${qklzl} | ${etcd} | ${note} |`), { binary, seconds: Number(process.env.BENCH_DURATION ?? "10"), loadNote });
}
