// Snapshot of N keys (default 1,000,000) with 100-byte values through a running node: time to write the
// snapshot, the longest event-loop stall while it is written (with writes flowing), then a second node joins
// and installs it over loopback (InstallSnapshot). Run: bun test/node/snapshot_1m.bench.ts [keys]
import { TestCluster, waitFor } from "./harness.ts";

const keys = Number(process.argv[2] ?? 1_000_000);
const value = "v".repeat(100);
const cluster = new TestCluster();
const rssMb = () => (process.memoryUsage().rss / 1e6).toFixed(0);
let rssPeak = 0;
const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);

function stallMeter() {
  let last = performance.now();
  let worst = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (running) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  return () => ((running = false), worst);
}

try {
  const big = { snapshotEntries: 10_000_000, trailingEntries: 1_000, requestTimeoutMs: 30_000, heartbeatMs: 100, electionMs: 2_000 };
  await cluster.start(1, { ...big, bootstrap: true });
  await waitFor("node 1 leads", () => cluster.status(1).is_leader);
  const api = cluster.node(1).api;
  let t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 256 }, async () => {
    while (next < keys) await api.write({ op: "put", key: `key-${String(next++).padStart(7, "0")}`, value });
  }));
  console.log(`filled ${keys} keys in ${((performance.now() - t) / 1000).toFixed(1)} s; rss ${rssMb()} MB`);

  // Snapshot while 16 writers keep writing.
  let writing = true;
  let during = 0;
  const writers = Promise.all(Array.from({ length: 16 }, async () => {
    while (writing) {
      await api.write({ op: "put", key: `during-${during++ % 1000}`, value });
    }
  }));
  await Bun.sleep(200);
  const stop = stallMeter();
  t = performance.now();
  const { index } = await api.snapshot();
  const snapshotMs = performance.now() - t;
  const stall = stop();
  writing = false;
  await writers;
  console.log(`snapshot at ${index}: ${snapshotMs.toFixed(0)} ms (image + fsync + compaction), longest loop stall ${stall.toFixed(0)} ms, ${during} writes acked meanwhile; rss ${rssMb()} MB`);

  // A second node joins: the leader streams the snapshot, the joiner installs it.
  const stop2 = stallMeter();
  t = performance.now();
  const node2 = await cluster.start(2, { ...big, join: cluster.node(1).httpAddr });
  await waitFor("node 2 installed the snapshot", () => node2.api.status().snapshots_installed >= 1, 300_000);
  const installMs = performance.now() - t;
  await waitFor("node 2 caught up", () => node2.api.status().kv_hash === cluster.status(1).kv_hash, 120_000);
  console.log(`join + InstallSnapshot over loopback: ${installMs.toFixed(0)} ms, longest loop stall ${stop2().toFixed(0)} ms (both nodes share this process); hash match; rss peak ${(rssPeak / 1e6).toFixed(0)} MB`);
} finally {
  clearInterval(rssTimer);
  await cluster.close();
}
process.exit(0);
