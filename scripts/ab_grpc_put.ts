#!/usr/bin/env bun
// A/B of the qklzl side of `bench grpc`'s put row only (no etcd, no range, no h2load): for each binary given, a
// fresh 3-node cluster, a 2 s warm-up, then 64 KV.Put calls in flight over 4 connections for BENCH_DURATION (10)
// seconds, with the leader's and the cluster's CPU per call from /proc. Alternate the binaries on the command
// line (A B A B) to compare builds in the same minutes. Usage: bun scripts/ab_grpc_put.ts BIN_A BIN_B [BIN_A ...]
import { loadavg } from "node:os";
import { runGrpcLoad } from "../src/cli/bench/grpc_load.ts";
import { cpuDuring } from "../src/cli/bench/proc_cpu.ts";
import { Launcher } from "../src/cli/launcher/index.ts";
import { freePort } from "../src/cli/launcher/ports.ts";

const seconds = Number(process.env.BENCH_DURATION ?? "10");
const load = { op: "put" as const, clients: 64, connections: 4, keys: 10_000, valueSize: 100 };
for (const binary of process.argv.slice(2)) {
  const grpc = new Map([1, 2, 3].map((id) => [id, `127.0.0.1:${freePort()}`]));
  const cluster = new Launcher({ name: "ab-grpc", command: [binary], output: "ignore", env: { CONSOLA_LEVEL: "1" }, nodeArgs: (id) => ["-grpc-addr", grpc.get(id)!] });
  try {
    const { leaderId } = await cluster.startFresh();
    const pids = [leaderId, ...[1, 2, 3].filter((id) => id !== leaderId)].map((id) => cluster.node(id).proc!.pid);
    const addr = grpc.get(leaderId)!;
    await runGrpcLoad({ addr, ...load, durationMs: 2_000 });
    const before = loadavg()[0]!.toFixed(1);
    const { result: r, cpuMs } = await cpuDuring(pids, () => runGrpcLoad({ addr, ...load, durationMs: seconds * 1000 }));
    const us = (ms: number) => ((ms * 1000) / r.ops).toFixed(0);
    console.log(
      `${binary}: ${r.throughput.toFixed(0)}/s p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms; ${us(cpuMs[0]!)} µs leader / ${us(cpuMs.reduce((a, b) => a + b, 0))} µs cluster CPU per call; ${r.errors} errors; load ${before}`,
    );
  } finally {
    await cluster.destroy();
  }
}
