// alloc_per_put.ts: JS cells allocated per put, by type, in a 3-node cluster in this process (test/node/harness.ts:
// real loopback transport and WAL, no HTTP), one put at a time (as one client: a put alone in its Ready, its
// appends, acks and commit-only appends). After a warm-up, each round forces a full collection, counts cells by
// type with bun:jsc heapStats(), runs N puts and counts again: the difference is what the puts allocated, as long
// as no collection ran in between (a round whose counts are far below the others had one: ignore it). The figure
// covers all three nodes; the GC pauses that set the one-connection tail scale with it (BENCHMARKS.md, 2026-12-03).
// usage: bun scripts/alloc_per_put.ts [PUTS_PER_ROUND=150] [ROUNDS=4]
import { heapStats } from "bun:jsc";
import { TestCluster, waitFor } from "../test/node/harness.ts";

const perRound = Number(process.argv[2] ?? 150);
const rounds = Number(process.argv[3] ?? 4);
const cluster = new TestCluster();
try {
  const first = await cluster.start(1, { bootstrap: true });
  await waitFor("node 1 leads", () => cluster.status(1).is_leader);
  for (const id of [2, 3]) {
    await cluster.start(id, { join: first.httpAddr });
    await waitFor(`node ${id} is a voter`, () => cluster.status(1).members.find((m) => m.id === id)?.role === "voter");
  }
  const api = cluster.node(1).api;
  const value = "x".repeat(100);
  for (let i = 0; i < 3000; i++) await api.write({ op: "put", key: `k${i % 1000}`, value });
  for (let round = 0; round < rounds; round++) {
    Bun.gc(true);
    const before = heapStats().objectTypeCounts;
    for (let i = 0; i < perRound; i++) await api.write({ op: "put", key: `k${i % 1000}`, value });
    const after = heapStats().objectTypeCounts;
    const perPut = Object.entries(after)
      .map(([type, count]) => [type, (count - (before[type] ?? 0)) / perRound] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]);
    const total = perPut.reduce((sum, [, n]) => sum + n, 0);
    console.log(`round ${round + 1}: ${total.toFixed(0)} cells per put: ${perPut.slice(0, 14).map(([t, n]) => `${t} ${n.toFixed(1)}`).join(", ")}`);
  }
} finally {
  await cluster.close();
}
