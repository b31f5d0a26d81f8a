// `bun scripts/bench_restore.ts`: the restart and memory figures of issue 12, in process and bounded.
// 1. Fills one KvStateMachine with BENCH_KEYS (default 1,000,000) puts of 100-byte values through apply, then
//    BENCH_OVERWRITES (default 100,000) overwrites of random keys, so that the default retention holds a full
//    window of history; takes a snapshot; reports the RSS of that process, settled (a running node).
// 2. Writes the image to a temp file and, in a fresh child process (a restarted node), times reading it and
//    restoring it (decode + build + hash check), BENCH_ROUNDS times (wall and CPU time: on a loaded machine the
//    CPU time is the steadier figure), and reports the child's settled RSS.
// Prints one `RESTORE` line of key=value fields (scripts/bench.ts parses it). Not a test: nothing is asserted.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { KvStateMachine } from "../src/kv/index.ts";
import { record_header_bytes } from "../src/kv/value_arena.ts";

const mb = (bytes: number) => (bytes / 1048576).toFixed(0);

/** settledRss: RSS after full collections, sampled until it stops falling (at most ~10 s). */
async function settledRss(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    Bun.gc(true);
    await Bun.sleep(1000);
    const rss = process.memoryUsage().rss;
    if (rss > last * 0.99) return Math.min(rss, last);
    last = rss;
  }
  return last;
}

async function restoreChild(file: string, rounds: number): Promise<void> {
  const times: number[] = [];
  const cpus: number[] = [];
  const reads: number[] = [];
  let kv: KvStateMachine | null = null;
  for (let round = 0; round < rounds; round++) {
    kv = null;
    Bun.gc(true);
    const started = performance.now();
    const cpu = process.cpuUsage();
    const image = readFileSync(file);
    const read = performance.now();
    kv = new KvStateMachine();
    await kv.restore(image);
    times.push(performance.now() - started);
    const used = process.cpuUsage(cpu);
    cpus.push((used.user + used.system) / 1000);
    reads.push(read - started);
  }
  const rss = await settledRss();
  const best = Math.min(...times);
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(`CHILD restore_ms_best=${best.toFixed(0)} restore_ms_median=${median.toFixed(0)} restore_cpu_ms_best=${Math.min(...cpus).toFixed(0)} read_ms=${Math.min(...reads).toFixed(0)} rss_mb=${mb(rss)} keys=${kv!.size} revision=${kv!.revision}`);
}

async function main(): Promise<void> {
  const keys = Number(process.env.BENCH_KEYS ?? "1000000");
  const overwrites = Number(process.env.BENCH_OVERWRITES ?? "100000");
  const rounds = Number(process.env.BENCH_ROUNDS ?? "3");
  const load = loadavg()[0]!.toFixed(1);
  const kv = new KvStateMachine();
  const value = "v".repeat(100);
  const keyOf = (i: number) => `key-${String(i).padStart(8, "0")}`;
  const fillStarted = performance.now();
  let index = 0;
  for (let i = 0; i < keys; i++) kv.apply(++index, { op: "put", key: keyOf(i), value });
  // A fixed LCG (not Math.random) so that every run writes the same history.
  let seed = 12345;
  for (let i = 0; i < overwrites; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    kv.apply(++index, { op: "put", key: keyOf(seed % keys), value: `${value.slice(0, 90)}${String(i).padStart(10, "0")}` });
  }
  const fillMs = performance.now() - fillStarted;
  const snapStarted = performance.now();
  const snapshot = await kv.snapshot();
  const snapshotMs = performance.now() - snapStarted;
  const dir = mkdtempSync(join(tmpdir(), "qklzl-restore-bench-"));
  try {
    const file = join(dir, "image");
    writeFileSync(file, snapshot.data);
    const imageBytes = snapshot.data.length;
    (snapshot as { data: Uint8Array | null }).data = null;
    const memory = kv.memory();
    const rss = await settledRss();
    const child = Bun.spawnSync([process.execPath, import.meta.path, "--restore", file, String(rounds)], { stdout: "pipe", stderr: "inherit", timeout: 300_000 });
    const line = child.stdout.toString().split("\n").find((text) => text.startsWith("CHILD ")) ?? "CHILD failed=1";
    console.log(
      [
        "RESTORE",
        `keys=${keys}`,
        `overwrites=${overwrites}`,
        `revision=${kv.revision}`,
        `compacted=${kv.compactedRevision}`,
        `history_events=${memory.historyEvents}`,
        `history_mb=${mb(memory.historyBytes)}`,
        `live_mb=${mb(memory.liveBytes)}`,
        `image_mb=${mb(imageBytes)}`,
        `fill_s=${(fillMs / 1000).toFixed(1)}`,
        `snapshot_ms=${snapshotMs.toFixed(0)}`,
        `node_rss_mb=${mb(rss)}`,
        line.slice("CHILD ".length),
        `record_header_bytes=${record_header_bytes}`,
        `load=${load}`,
      ].join(" "),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--restore") await restoreChild(process.argv[3]!, Number(process.argv[4] ?? "3"));
else await main();
