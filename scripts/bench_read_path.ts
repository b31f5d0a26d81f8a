#!/usr/bin/env bun
// CPU per linearizable GET /kv?key=K through qklzl's own code only: one bootstrapped single-voter node in this
// process (its read rounds are answered at once, no peers), its route handlers called directly (no HTTP server,
// no sockets), 64 reads in flight like wrk -c64. What is left is the route, the node API, the reads module, the
// runtime loop's Ready cycles and the store lookup, which an HTTP A/B on a shared 2-core machine cannot resolve
// to the µs. The Request objects are built once and reused (a handler only reads url, method and headers).
// BENCH_NODES=3: three nodes in this one process (node 1 bootstraps and leads, 2 and 3 join), so the read rounds
// go over the real transport to the followers: the CPU per read is then the whole cluster's (all on one core).
// Usage: bun scripts/bench_read_path.ts PORTBASE [READS=400000] [ROUNDS=5]; prints µs of CPU and of wall per read.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode } from "../src/node/index.ts";
import { buildRoutes } from "../src/node/http/routes.ts";
import { withDashboard } from "../src/node/http/dashboard.ts";
import { nodeOptions } from "../test/node/harness.ts";

const portBase = Number(process.argv[2]);
if (!Number.isInteger(portBase) || portBase <= 0 || portBase >= 32768) throw new Error("usage: bench_read_path.ts PORTBASE [READS] [ROUNDS]");
const total = Number(process.argv[3] ?? "400000");
const rounds = Number(process.argv[4] ?? "5");
const keys = 10_000;
const inFlight = 64;
const dir = mkdtempSync(join(tmpdir(), "qklzl-readpath-"));
const httpAddr = `127.0.0.1:${portBase + 11}`;
const nodeCount = Number(process.env.BENCH_NODES ?? "1");
// The node tests' options (test/node/harness.ts), with this bench's addresses and slower timers.
const options = (id: number) =>
  nodeOptions(id, join(dir, `n${id}`), {
    raftAddr: `127.0.0.1:${portBase + id}`,
    httpAddr: `127.0.0.1:${portBase + 10 + id}`,
    bootstrap: id === 1,
    join: id === 1 ? null : httpAddr,
    heartbeatMs: 100,
    electionMs: 1000,
    snapshotEntries: 100_000,
  });
const node = await startNode(options(1));
const others: Awaited<ReturnType<typeof startNode>>[] = [];
try {
  for (let id = 2; id <= nodeCount; id++) {
    others.push(await startNode(options(id)));
    const deadline = performance.now() + 20_000;
    while (node.api.status().members.find((m) => m.id === id)?.role !== "voter") {
      if (performance.now() > deadline) throw new Error(`node ${id} did not become a voter`);
      await Bun.sleep(20);
    }
  }
  const key = (i: number) => `bench-key-${String(i).padStart(8, "0")}`;
  for (let i = 0; i < keys; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, keys - i) }, (_, j) => node.api.write({ op: "put", key: key(i + j), value: "v".repeat(100) })));
  }
  const { routes } = withDashboard(
    buildRoutes(node.api, { listen: httpAddr, maxKeyBytes: 4096, maxValueBytes: 1024 * 1024, maxBodyBytes: 2 * 1024 * 1024, requestTimeoutMs: 5_000 }),
    node.api,
  );
  const route = routes["/kv"]!;
  const readRounds = () => Number(/^qklzl_read_index_rounds_total (\d+)/m.exec(node.api.metricsText())?.[1] ?? "0");
  // BENCH_LAYER=api: node.api.readKv only (no route); api-stale: the same without the ReadIndex round.
  const layer = process.env.BENCH_LAYER ?? "route";
  const keyOf = (req: Request) => req.url.slice(req.url.indexOf("key=") + 4);
  const getKv: (req: Request) => Promise<{ status: number }> =
    layer === "route"
      ? route
      : async (req) => ((await node.api.readKv(keyOf(req), layer === "api-stale" ? "stale" : "linearizable")) === null ? { status: 404 } : { status: 200 });
  const requests = Array.from({ length: keys }, (_, i) => new Request(`http://${httpAddr}/kv?key=${key(i)}`));
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % keys;
  const run = async (n: number) => {
    let left = n;
    let failed = 0;
    const worker = async () => {
      while (left-- > 0) {
        const response = await getKv(requests[next()]!);
        if (response.status !== 200) failed++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    if (failed > 0) throw new Error(`${failed} reads did not answer 200`);
  };
  await run(Math.min(total, 50_000)); // warm-up: JIT tiers, tables
  for (let round = 0; round < rounds; round++) {
    Bun.gc(true);
    const rounds0 = readRounds();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    await run(total);
    const wall = performance.now() - wall0;
    const cpu = process.cpuUsage(cpu0);
    const perRound = total / Math.max(1, readRounds() - rounds0);
    console.log(
      `read_path round=${round} reads=${total} cpu_us_per_read=${((cpu.user + cpu.system) / total).toFixed(3)} user=${(cpu.user / total).toFixed(3)} sys=${(cpu.system / total).toFixed(3)} wall_us_per_read=${((wall * 1000) / total).toFixed(3)} reads_per_round=${perRound.toFixed(1)}`,
    );
  }
} finally {
  for (const other of others) await other.stop();
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
