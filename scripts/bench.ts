// `npm run bench`: the standard benchmark set of issue 7, appended as dated rows to BENCHMARKS.md.
// 1. ../shared/bench/compare.sh (wrk, 64 connections): qklzl vs a 3-member etcd, puts and linearizable reads,
//    measured one after the other in this same run.
// 2. one-connection put latency (wrk -t1 -c1, BENCH_LATENCY_SECONDS, default 30), then etcd's in the same run; linearizable reads from a follower at 64 clients.
// 3. Memory: RSS per node after writing BENCH_MEMORY_KEYS (default 1,000,000) keys of 100 bytes.
// 4. Failover: median time from kill -9 of the leader to the first acknowledged write (5 rounds).
// 5. mvcc (issue 12, scripts/bench_mvcc.ts): range of 1,000 keys, txn CAS, puts with history on, each against
//    etcd's JSON gateway; restart (restore of a 1M-key snapshot) and in-process RSS (scripts/bench_restore.ts).
// 6. grpc (issue 14, scripts/bench_grpc.ts): etcd's own protocol, KV.Put and linearizable KV.Range at 64 calls
//    in flight (a lean HTTP/2 client, node:http2's, h2load), against qklzl's -grpc-addr and etcd's gRPC port, each
//    step on one system right after the other.
// 7. watch (issue 13, scripts/bench_watch.ts): fan-out to 100 and 1,000 watchers; leases (scripts/bench_leases.ts):
//    grant and keepalive rates; both with the etcd3 client (gRPC) against qklzl's --grpc-addr and a 3-member etcd.
// 8. security (issue 15, scripts/bench_security.ts): puts at 64 connections (wrk) plain, with TLS on the client
//    port, with auth on (Bearer token), and both; each with its ratio to plain.
// 9. values (issue 16, scripts/bench_values.ts): puts of 16 KiB, 64 KiB and 1 MiB values through POST /kv, through
//    the raw PUT /kv/KEY, and to etcd's JSON gateway, with MB/s of values against the disk's bandwidth (fio).
// Every step is bounded in time; a step whose tools are missing is reported as skipped, not faked.
import { closeSync, existsSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { measureFailover } from "../src/cli/bench/failover.ts";
import { fillKeys, runLoad } from "../src/cli/bench/load.ts";
import { benchCluster } from "../src/cli/bench/cluster.ts";
import { grpcRows } from "./bench_grpc.ts";
import { leaseRows } from "./bench_leases.ts";
import { mvccRows, restartRows } from "./bench_mvcc.ts";
import { securityRows } from "./bench_security.ts";
import { valuesRows } from "./bench_values.ts";
import { watchRows } from "./bench_watch.ts";

const root = join(import.meta.dir, "..");
const binary = join(root, "bin", "qklzl");
const benchmarksFile = join(root, "BENCHMARKS.md");
const sharedBench = process.env.BENCH_SHARED_DIR ?? join(root, "..", "shared", "bench");
const compareScript = join(sharedBench, "compare.sh");
// Arguments name the steps to run (compare latency follower-reads memory failover mvcc restart grpc watch leases
// security values); --dry-run
// prints rows only.
const dryRun = process.argv.includes("--dry-run");
const only = process.argv.slice(2).filter((arg) => arg !== "--dry-run");
const rows: string[] = [];
// Several runs a day are common: the date column carries the UTC time too.
const today = `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`;

function step(name: string): boolean {
  return only.length === 0 || only.includes(name);
}

function row(figure: string, qklzl: string, etcd: string, note: string): void {
  const line = `| ${today} | ${figure} | ${qklzl} | ${etcd} | ${note} |`;
  rows.push(line);
  console.log(line);
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function build(): Promise<void> {
  log("building bin/qklzl");
  const result = Bun.spawnSync(["node_modules/.bin/bun", "run", "build"], { cwd: root, stdout: "ignore", stderr: "inherit" });
  if (result.exitCode !== 0) throw new Error("build failed");
}

function field(line: string, name: string): string {
  return new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1] ?? "NaN";
}

async function compare(): Promise<void> {
  const missing = ["wrk", "etcd", "etcdctl", "setsid", "curl"].filter((tool) => !Bun.which(tool));
  if (!existsSync(compareScript) || missing.length > 0) {
    row("compare.sh put/read c=64", "skipped", "skipped", `missing: ${missing.join(" ") || compareScript} (apt-get install -y etcd-server wrk)`);
    return;
  }
  log("running compare.sh (qklzl then etcd, puts and reads at 64 connections)");
  const load = loadNote();
  const result = Bun.spawnSync(["bash", compareScript], {
    env: { ...process.env, QKLZL_BIN: binary, READS: "1", CONNS: "64", DURATION: process.env.BENCH_DURATION ?? "10" },
    stdout: "pipe",
    stderr: "inherit",
    timeout: 600_000,
  });
  const output = result.stdout.toString();
  process.stdout.write(output);
  const line = (system: string, kind: string) => output.split("\n").find((text) => text.startsWith(system) && text.includes(` ${kind} `)) ?? "";
  for (const kind of ["put", "read"]) {
    const q = line("qklzl", kind);
    const e = line("etcd", kind);
    const describe = (text: string) => `${field(text, "rps")}/s p50 ${field(text, "p50_ms")} ms p99 ${field(text, "p99_ms")} ms`;
    const qRps = Number(field(q, "rps"));
    const eRps = Number(field(e, "rps"));
    const ratio = eRps > 0 ? (qRps / eRps).toFixed(2) : "NaN";
    row(`${kind === "put" ? "puts" : "linearizable reads (leader)"} c=64 (wrk)`, describe(q), describe(e), `${ratio}× etcd; qklzl ${field(q, "other_cpu")} / etcd ${field(e, "other_cpu")} other_cpu; ${load} at start`);
  }
}

async function clusterFigures(): Promise<void> {
  const cluster = benchCluster({ command: [binary] });
  try {
    const leader = cluster.node((await cluster.startFresh()).leaderId);
    const follower = [...cluster.nodes.values()].find((node) => node.id !== leader.id)!;
    if (step("latency")) {
      const load = loadNote();
      // wrk -c1 (the client of every other figure and of the etcd anchor); the Bun client as a fallback. Long
      // enough for the p99 to rest on a few hundred samples (issue 16: the tail at one connection).
      const wrk = runWrk("qklzl-put.lua", `http://${leader.httpAddr}`, latencySeconds, 1);
      const single = wrk === null ? await runLoad({ writeAddr: leader.httpAddr, readAddr: leader.httpAddr, clients: 1, durationMs: latencySeconds * 1000, keys: 10_000, valueSize: 100, mix: { put: 1, get: 0 }, consistency: "linearizable" }) : null;
      const l = single !== null ? single.total.latencyMs : { p50: Number(field(wrk!, "p50_ms")), p99: Number(field(wrk!, "p99_ms")) };
      const rate = single !== null ? single.total.throughput : Number(field(wrk!, "rps"));
      // The reference of the target, measured now: fdatasync p50 of a 4 KiB append on this disk (leader and
      // follower each pay one) plus the p50 of a cross-process loopback round trip (two hops).
      const fsync = fdatasyncP50Ms();
      const rtt = loopbackRttMs();
      const reference = 2 * fsync + rtt;
      // The row waits for etcd's figure, measured once this cluster is gone (main: etcdSingleConnection).
      pendingLatency = {
        figure: `put latency c=1 (${wrk === null ? "qklzl bench, Bun client" : "wrk -c1"}, ${latencySeconds} s)`,
        qklzl: `p50 ${l.p50.toFixed(2)} ms p99 ${l.p99.toFixed(2)} ms (${rate.toFixed(0)}/s)`,
        note: `reference: 2 × fdatasync p50 ${fsync.toFixed(3)} + RTT p50 ${rtt.toFixed(3)} = ${reference.toFixed(2)} ms; p50 = ${(l.p50 / reference).toFixed(2)}× (target ≤ 0.5 ms, p99 ≤ etcd's); ${load}`,
      };
    }
    if (step("follower-reads")) {
      await fillKeys(leader.httpAddr, { keys: 10_000, valueSize: 100, clients: 16 });
      const load = loadNote();
      const wrk = runWrk("qklzl-get.lua", `http://${follower.httpAddr}`, 8);
      if (wrk !== null) {
        row("linearizable reads from a follower c=64 (wrk, qklzl-get.lua)", `${field(wrk, "rps")}/s p50 ${field(wrk, "p50_ms")} ms p99 ${field(wrk, "p99_ms")} ms`, "see compare (leader reads)", `non2xx ${field(wrk, "non2xx")}; ${load}`);
      } else {
        const reads = await runLoad({ writeAddr: leader.httpAddr, readAddr: follower.httpAddr, clients: 64, durationMs: 8000, keys: 10_000, valueSize: 100, mix: { put: 0, get: 1 }, consistency: "linearizable" });
        const l = reads.total.latencyMs;
        row("linearizable reads from a follower c=64 (qklzl bench, Bun client)", `${reads.total.throughput.toFixed(0)}/s p50 ${l.p50.toFixed(2)} ms p99 ${l.p99.toFixed(2)} ms`, "n/a", `errors ${reads.total.errors}; ${load}`);
      }
    }
    if (step("memory")) {
      const keys = Number(process.env.BENCH_MEMORY_KEYS ?? "1000000");
      log(`filling ${keys} keys for the memory figure`);
      const ids = [...cluster.nodes.keys()];
      const peak = new Map<number, number>(ids.map((id) => [id, 0]));
      const sample = () => {
        for (const id of ids) peak.set(id, Math.max(peak.get(id)!, cluster.rssBytes(id)));
      };
      const sampler = setInterval(sample, 1000);
      let fillMs: number;
      try {
        fillMs = await fillKeys(leader.httpAddr, { keys, valueSize: 100, clients: 64, onProgress: (done) => log(`filled ${done}`) });
      } finally {
        clearInterval(sampler);
      }
      // Settled: what holding the keys costs once the fill's garbage is collected and returned (a snapshot or a
      // GC cycle in progress right after the fill shows as a transient; the peak during the fill is reported too).
      // RSS falls in steps for a while after the fill (the allocator returns freed pages every few seconds):
      // sample for a fixed 30 s and report the last sample as the settled figure.
      let settled = ids.map((id) => cluster.rssBytes(id));
      for (let waited = 0; waited < 30_000; waited += 2000) {
        await Bun.sleep(2000);
        sample();
        settled = ids.map((id) => cluster.rssBytes(id));
      }
      const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
      const rss = ids.map((id, i) => `n${id} ${mb(settled[i]!)}`);
      const peaks = ids.map((id) => `n${id} ${mb(peak.get(id)!)}`);
      row(`RSS after ${keys} keys × 100 B (settled)`, rss.join(", "), "n/a", `peak during the fill ${peaks.join(", ")}; fill took ${(fillMs / 1000).toFixed(1)} s; target < 500 MB per node; ${loadNote()}`);
    }
  } finally {
    await cluster.destroy();
  }
}

/** pendingLatency: the qklzl c=1 figure, written as a row beside etcd's once that is measured. */
let pendingLatency: { figure: string; qklzl: string; note: string } | null = null;
const latencySeconds = Number(process.env.BENCH_LATENCY_SECONDS ?? "30");

/**
 * etcdSingleConnection: etcd's put latency at one connection, the anchor of the c=1 goal (issue 16): a 3-member
 * etcd (../shared/bench/etcd-cluster.sh), wrk -t1 -c1 with etcd-put.lua on its leader, as long as qklzl's run.
 */
function etcdSingleConnection(): string {
  const script = join(sharedBench, "etcd-cluster.sh");
  const missing = ["etcd", "etcdctl", "wrk"].filter((tool) => !Bun.which(tool));
  if (!existsSync(script) || missing.length > 0) return `skipped: missing ${missing.join(" ") || script}`;
  const started = Bun.spawnSync(["bash", script, "start"], { stdout: "ignore", stderr: "pipe", timeout: 120_000 });
  if (started.exitCode !== 0) return `skipped: etcd-cluster.sh start failed: ${started.stderr.toString().trim().split("\n").pop()}`;
  try {
    const leader = Bun.spawnSync(["bash", script, "leader"], { stdout: "pipe", timeout: 30_000 }).stdout.toString().trim();
    const url = leader.startsWith("http") ? leader : `http://${leader}`;
    runWrk("etcd-put.lua", url, 3, 1); // warm-up: connections, the first WAL segment
    const line = runWrk("etcd-put.lua", url, latencySeconds, 1);
    if (line === null) return "skipped: wrk gave no result";
    return `p50 ${Number(field(line, "p50_ms")).toFixed(2)} ms p99 ${Number(field(line, "p99_ms")).toFixed(2)} ms (${Number(field(line, "rps")).toFixed(0)}/s)`;
  } finally {
    Bun.spawnSync(["bash", script, "stop"], { stdout: "ignore", stderr: "ignore", timeout: 60_000 });
  }
}

/** loadNote: the 1-minute load average (the machine is shared; figures are only comparable at similar load). */
function loadNote(): string {
  return `load ${loadavg()[0]!.toFixed(1)}`;
}

/** runWrk runs one of ../shared/bench's wrk scripts and returns its WRKRESULT line, or null without wrk. */
function runWrk(script: string, url: string, seconds: number, connections = 64): string | null {
  const path = join(sharedBench, script);
  if (!Bun.which("wrk") || !existsSync(path)) return null;
  const threads = Math.min(2, connections);
  const result = Bun.spawnSync(["wrk", `-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", path, url], { stdout: "pipe", stderr: "pipe", timeout: (seconds + 30) * 1000 });
  return result.stdout.toString().split("\n").find((line) => line.startsWith("WRKRESULT")) ?? null;
}

/** fdatasyncP50Ms: p50 of "append 4 KiB + fdatasync" in the temp dir (the filesystem the bench cluster uses). */
function fdatasyncP50Ms(rounds = 400): number {
  const dir = mkdtempSync(join(tmpdir(), "qklzl-fsync-"));
  const fd = openSync(join(dir, "probe"), "a");
  const block = new Uint8Array(4096).fill(7);
  const samples: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      samples.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

/** loopbackRttMs: p50 of a cross-process loopback TCP ping-pong (../shared/bench/loopback-rtt.js), NaN without it. */
function loopbackRttMs(): number {
  const script = join(sharedBench, "loopback-rtt.js");
  if (!existsSync(script)) return Number.NaN;
  const result = Bun.spawnSync([process.execPath, script, "5000"], { stdout: "pipe", stderr: "ignore", timeout: 30_000 });
  return Number(/p50=([\d.]+)us/.exec(result.stdout.toString())?.[1] ?? "NaN") / 1000;
}

const sectionTitle = "## Cluster benchmarks (`npm run bench`)";

/** withRows adds rows at the end of the cluster table, creating the section if it is not there yet. */
function withRows(text: string, newRows: string[]): string {
  if (!text.includes(sectionTitle)) {
    return `${text.trimEnd()}\n\n${sectionTitle}\n\n| date | figure | qklzl | etcd 3.4 (same run) | note |\n|---|---|---|---|---|\n${newRows.join("\n")}\n`;
  }
  const lines = text.split("\n");
  let at = lines.indexOf(sectionTitle);
  while (at < lines.length && !lines[at]!.startsWith("|")) at++; // the table's header row
  while (at + 1 < lines.length && lines[at + 1]!.startsWith("|")) at++; // its last row
  lines.splice(at + 1, 0, ...newRows);
  return lines.join("\n");
}

async function main(): Promise<void> {
  await build();
  if (step("compare")) await compare();
  if (step("latency") || step("follower-reads") || step("memory")) await clusterFigures();
  if (pendingLatency !== null) {
    const etcd = etcdSingleConnection();
    row(pendingLatency.figure, pendingLatency.qklzl, `${etcd} (wrk -t1 -c1, etcd-put.lua)`, `${pendingLatency.note}, ${loadNote()} after etcd`);
  }
  if (step("failover")) {
    const failover = await measureFailover(5, { command: [binary], onRound: (round, ms) => log(`failover round ${round}: ${ms.toFixed(0)} ms`) });
    row("failover: kill -9 leader → first acked write (median of 5)", `${failover.medianMs.toFixed(0)} ms`, "n/a", `samples ${failover.samplesMs.map((ms) => ms.toFixed(0)).join(", ")} ms; target < 2500 ms`);
  }
  if (step("mvcc")) {
    await mvccRows(row, { binary, seconds: Number(process.env.BENCH_DURATION ?? "10"), connections: 64, loadNote });
  }
  if (step("restart")) restartRows(row, loadNote);
  if (step("grpc")) await grpcRows(row, { binary, seconds: Number(process.env.BENCH_DURATION ?? "10"), loadNote });
  const seconds = Number(process.env.BENCH_DURATION ?? "5");
  if (step("watch")) await watchRows(row, { binary, seconds, loadNote });
  if (step("leases")) await leaseRows(row, { binary, seconds, loadNote });
  if (step("security")) await securityRows(row, { binary, seconds: Number(process.env.BENCH_DURATION ?? "10"), loadNote });
  if (step("values")) await valuesRows(row, { binary, seconds: Number(process.env.BENCH_DURATION ?? "10"), loadNote });
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Bun ${Bun.version}`;
  const stamped = rows.map((line) => line.replace(/ \|$/, ` (${machine}) |`));
  if (dryRun) {
    log(`dry run: ${rows.length} rows not written`);
    return;
  }
  writeFileSync(benchmarksFile, withRows(existsSync(benchmarksFile) ? readFileSync(benchmarksFile, "utf8") : "# Benchmarks\n", stamped));
  log(`appended ${rows.length} rows to BENCHMARKS.md`);
}

await main();
// The etcd3 clients of the watch and lease steps leave grpc-js handles behind after close(), which kept this
// process alive for minutes after its rows were written (seen on the watch step): end it once the rows are out.
process.exit(0);
