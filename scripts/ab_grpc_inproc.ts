#!/usr/bin/env bun
// A/B of the gRPC endpoint's own cost per call, without Raft, storage or other processes: for each source tree
// given (this checkout, or e.g. a `git archive` of a base commit with node_modules linked), a child process
// serves etcd's KV over that tree's src/node/grpc (plaintext h2, startGrpcServer) on a stub backend that answers
// at once, and drives it with this tree's lean client (64 calls in flight over 4 connections, prebuilt
// requests, every answer checked) for BENCH_DURATION (8) seconds. Reported: the child's CPU (server + client in
// one process) per call; the client is the same code in every run, so differences are the endpoint's. CPU time
// counts only while the process runs, so it is steadier than throughput on a loaded machine; still alternate
// the trees (A B B A). Ports: QKLZL_GRPC_BASE (the child listens on it), else a free port.
// Op put-node: puts through the endpoint as the node builds it (index.ts's startEtcdEndpoint: the auth gate,
// node_backend.ts, the NodeApi calls), over a NodeApi stub whose kvRequest answers as the runtime does: a promise
// per proposal, resolved for all of a turn's proposals in one later pass (the applier's), status() a fresh
// 3-member object each call; so the adapter's layers between the endpoint and Raft are measured too.
// Usage: bun scripts/ab_grpc_inproc.ts put|range|put-node TREE_A TREE_B [TREE_B TREE_A ...]
import { loadavg } from "node:os";
import { join } from "node:path";

const here = join(import.meta.dir, "..");

type Op = "put" | "range" | "put-node";

async function child(root: string, op: Op, seconds: number): Promise<void> {
  const { startGrpcServer } = await import(join(root, "src/node/grpc/server.ts"));
  const { startEtcdEndpoint } = await import(join(root, "src/node/grpc/index.ts"));
  const { nodeApiStub } = await import(join(here, "src/cli/bench/node_api_stub.ts"));
  const { runRawGrpcLoad } = await import(join(here, "src/cli/bench/grpc_raw_load.ts"));
  const { freePort } = await import(join(here, "src/cli/launcher/index.ts"));
  let revision = 1;
  const value = "v".repeat(100);
  const backend = {
    info: () => ({ cluster_id: "bench-cluster", node_id: 1, raft_term: 2, revision }),
    headerFacts: () => ({ cluster_id: "bench-cluster", node_id: 1, raft_term: 2 }),
    range: async (request: { key: string }) => ({ kvs: [{ key: request.key, value, create_revision: 2, mod_revision: 3, version: 1, lease: 0 }], count: 1, more: false, revision }),
    put: async () => ({ revision: ++revision }),
  };
  const port = process.env.QKLZL_GRPC_BASE === undefined ? freePort() : Number(process.env.QKLZL_GRPC_BASE);
  const server =
    op === "put-node"
      ? await startEtcdEndpoint(nodeApiStub(), { grpcAddr: `127.0.0.1:${port}`, requestTimeoutMs: 5_000, maxBodyBytes: 1 << 20 })
      : await startGrpcServer(backend, { listen: `127.0.0.1:${port}`, maxMessageBytes: 1 << 20, stopTimeoutMs: 1_000 });
  const load = { addr: server.addr, op: op === "range" ? ("range" as const) : ("put" as const), clients: 64, connections: 4, keys: 10_000, valueSize: 100 };
  try {
    await runRawGrpcLoad({ ...load, durationMs: 2_000 });
    const before = process.cpuUsage();
    const r = await runRawGrpcLoad({ ...load, durationMs: seconds * 1000 });
    const cpu = process.cpuUsage(before);
    if (r.errors > 0) throw new Error(`${r.errors} errors: ${r.firstError}`);
    console.log(`${root} (${op}): ${r.throughput.toFixed(0)}/s; ${((cpu.user + cpu.system) / r.ops).toFixed(2)} µs CPU per call (server + client); load ${loadavg()[0]!.toFixed(1)}`);
  } finally {
    await server.stop();
  }
}

const args = process.argv.slice(2);
if (args[0] === "--child") await child(args[1]!, args[2] as Op, Number(args[3]));
else {
  const [op, ...roots] = args;
  if ((op !== "put" && op !== "range" && op !== "put-node") || roots.length === 0) throw new Error("usage: bun scripts/ab_grpc_inproc.ts put|range|put-node TREE_A TREE_B [...]");
  const seconds = process.env.BENCH_DURATION ?? "8";
  for (const root of roots) {
    const run = Bun.spawnSync([process.execPath, import.meta.path, "--child", root, op, seconds], { stdout: "inherit", stderr: "inherit", timeout: (Number(seconds) + 30) * 1000 });
    if (run.exitCode !== 0) throw new Error(`the run of ${root} failed (exit ${run.exitCode})`);
  }
}
