#!/usr/bin/env bun
// A/B of the qklzl side of `bench grpc` (no etcd, no h2load): for each binary given, a fresh 3-node cluster, a
// 2 s warm-up, then 64 calls in flight over 4 connections for BENCH_DURATION (10) seconds, with the leader's and
// the cluster's CPU per call from /proc. BENCH_GRPC_OP=range: linearizable ranges (the keys filled first)
// instead of puts; BENCH_GRPC_CLIENT=http2: Bun's node:http2 client instead of the lean one (h2_client.ts).
// Ports: QKLZL_HTTP_BASE/QKLZL_RAFT_BASE/QKLZL_GRPC_BASE (fixed_ports.ts). Alternate the binaries on the command
// line (A B B A) to compare builds in the same minutes. BENCH_RATE=N: at most N calls started per second (the lean
// client), so builds that would reach different throughputs are compared at the same batching (the leader's CPU
// per put falls as more puts share each fsync and append; at one rate that difference is gone). Usage: bun scripts/ab_grpc_put.ts BIN_A BIN_B [BIN_A ...]
import { loadavg } from "node:os";
import { benchAddrs } from "../src/cli/bench/fixed_ports.ts";
import { fillGrpc, runGrpcLoad } from "../src/cli/bench/grpc_load.ts";
import { runRawGrpcLoad } from "../src/cli/bench/grpc_raw_load.ts";
import { cpuDuring } from "../src/cli/bench/proc_cpu.ts";
import { Launcher } from "../src/cli/launcher/index.ts";

const seconds = Number(process.env.BENCH_DURATION ?? "10");
const op = process.env.BENCH_GRPC_OP === "range" ? "range" : "put";
const client = process.env.BENCH_GRPC_CLIENT === "http2" ? "http2" : "raw";
const run = client === "http2" ? runGrpcLoad : runRawGrpcLoad;
const rate = Number(process.env.BENCH_RATE ?? "0");
const load = { op, clients: 64, connections: 4, keys: 10_000, valueSize: 100, ...(rate > 0 ? { ratePerSec: rate } : {}) } as const;
for (const binary of process.argv.slice(2)) {
  const { addrs, grpc } = benchAddrs();
  const cluster = new Launcher({ name: "ab-grpc", command: [binary], addrs, output: "ignore", env: { CONSOLA_LEVEL: "1" }, nodeArgs: (id) => ["-grpc-addr", grpc.get(id)!] });
  try {
    const { leaderId } = await cluster.startFresh();
    const pids = [leaderId, ...[1, 2, 3].filter((id) => id !== leaderId)].map((id) => cluster.node(id).proc!.pid);
    const addr = grpc.get(leaderId)!;
    if (op === "range") await fillGrpc(addr, load.keys, load.valueSize);
    await run({ addr, ...load, durationMs: 2_000 });
    const before = loadavg()[0]!.toFixed(1);
    const { result: r, cpuMs } = await cpuDuring(pids, () => run({ addr, ...load, durationMs: seconds * 1000 }));
    const us = (ms: number) => ((ms * 1000) / r.ops).toFixed(1);
    console.log(
      `${binary} (${op}, ${client} client${rate > 0 ? `, ≤ ${rate}/s` : ""}): ${r.throughput.toFixed(0)}/s p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms; ${us(cpuMs[0]!)} µs leader / ${us(cpuMs.reduce((a, b) => a + b, 0))} µs cluster CPU per call; client ${((r.clientCpuMs / (seconds * 10))).toFixed(0)} % of a core; ${r.errors} errors${r.firstError === null ? "" : ` (${r.firstError})`}; load ${before}`,
    );
  } finally {
    await cluster.destroy();
  }
}
