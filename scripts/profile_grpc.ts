#!/usr/bin/env bun
// Where the leader's CPU goes under the gRPC bench load: a 3-node qklzl from source with `bun --cpu-prof` on
// every node, 64 KV.Put (or linearizable KV.Range, after a fill) calls in flight for PROF_MS (20 s), then a clean
// stop so the profiles are written; then the leader's profile is split by subsystem for the load window only
// (scripts/cpuprofile_split.ts). The lean client (BENCH_GRPC_CLIENT=http2: node:http2); ports as ab_grpc_put.ts. Usage: bun scripts/profile_grpc.ts put|range [DIR]
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fillGrpc, runGrpcLoad } from "../src/cli/bench/grpc_load.ts";
import { Launcher } from "../src/cli/launcher/index.ts";
import { benchAddrs } from "../src/cli/bench/fixed_ports.ts";
import { runRawGrpcLoad } from "../src/cli/bench/grpc_raw_load.ts";

const repo = join(import.meta.dir, "..");
const op = (process.argv[2] ?? "put") as "put" | "range";
if (op !== "put" && op !== "range") throw new Error("usage: bun scripts/profile_grpc.ts put|range [DIR]");
const dir = process.argv[3] ?? mkdtempSync(join(tmpdir(), "qklzl-prof-"));
const loadMs = Number(process.env.PROF_MS ?? "20000");
const { addrs, grpc } = benchAddrs();
const run = process.env.BENCH_GRPC_CLIENT === "http2" ? runGrpcLoad : runRawGrpcLoad;
const cluster = new Launcher({
  name: "prof",
  addrs,
  command: [process.execPath, "--cpu-prof", `--cpu-prof-dir=${dir}`, join(repo, "src", "cli", "main.ts")],
  output: "ignore",
  env: { CONSOLA_LEVEL: "1" },
  nodeArgs: (id) => ["-grpc-addr", grpc.get(id)!],
});
let leaderPid = 0;
let stopMs = 0;
try {
  const { leaderId } = await cluster.startFresh();
  leaderPid = cluster.node(leaderId).proc!.pid;
  const addr = grpc.get(leaderId)!;
  if (op === "range") await fillGrpc(addr, 10_000, 100);
  const r = await run({ addr, op, clients: 64, connections: 4, durationMs: loadMs, keys: 10_000, valueSize: 100 });
  console.log(`${op}: ${r.throughput.toFixed(0)}/s p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms, ${r.errors} errors`);
  const started = performance.now();
  await cluster.stopAll(20_000); // a clean exit writes the profiles
  stopMs = performance.now() - started;
} finally {
  await cluster.destroy();
}
const profile = readdirSync(dir).filter((f) => f.includes(`.${leaderPid}.`)).map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
if (profile === undefined) throw new Error(`no profile of the leader (pid ${leaderPid}) in ${dir}`);
console.log(`leader profile: ${profile}`);
// The load window: from the end of the profile, skip the stop (plus 0.5 s) and keep the load less its first second.
const split = Bun.spawnSync([process.execPath, join(import.meta.dir, "cpuprofile_split.ts"), profile, String(Math.round(stopMs + 500)), String(loadMs - 1000)], { stdout: "inherit", stderr: "inherit" });
process.exit(split.exitCode ?? 1);
