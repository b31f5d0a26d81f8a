// bench:storage — WAL throughput and recovery time (a benchmark, not a test: it prints figures).
//   1. sequential appends, one sync per batch, batch sizes 1 / 16 / 256, 100-byte entries
//   2. group commit: N concurrent appenders of one entry each (closed loop: each awaits durability)
//   3. recovery: open a 1,000,000-entry log
// Both fdatasync modes ("async" = thread pool, the default; "sync" = blocks the event loop) are measured.
// Usage: bun scripts/bench_storage.ts [--quick] [--dir <parent dir on the disk to measure>]
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { openStorage, type SyncMode } from "../src/storage/index.ts";
import type { Entry } from "../src/raft/types.ts";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const dirArg = args.indexOf("--dir");
const parent = dirArg >= 0 && args[dirArg + 1] !== undefined ? args[dirArg + 1]! : os.tmpdir();
const runMs = quick ? 300 : 700;
const entryBytes = 100;
const payload = new Uint8Array(entryBytes).fill(7);

function tempDir(): string {
  return fs.mkdtempSync(path.join(parent, "qklzl-bench-"));
}

function batch(lo: number, count: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) out.push({ kind: "normal", index: lo + i, term: 1, data: payload });
  return out;
}

interface Row {
  rate: number;
  text: string;
}

async function sequential(syncMode: SyncMode, batchSize: number): Promise<Row> {
  const dir = tempDir();
  const s = await openStorage({ dir, nodeId: 1, syncMode });
  let batches = 0;
  const start = performance.now();
  while (performance.now() - start < runMs) {
    await s.log.save(batch(s.log.lastIndex() + 1, batchSize), { term: 1, vote: 1, commit: 0 });
    batches++;
  }
  const seconds = (performance.now() - start) / 1000;
  const syncs = s.log.syncs;
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const entries = (batches * batchSize) / seconds;
  const text = `| ${syncMode} | ${batchSize} | ${fmt(batches / seconds)} | ${fmt(entries)} | ${((entries * entryBytes) / 1e6).toFixed(1)} | ${fmt(syncs / seconds)} |`;
  return { rate: entries, text };
}

async function concurrent(syncMode: SyncMode, appenders: number): Promise<Row> {
  const dir = tempDir();
  const s = await openStorage({ dir, nodeId: 1, syncMode });
  let saves = 0;
  const latencies: number[] = [];
  const start = performance.now();
  async function appender(): Promise<void> {
    while (performance.now() - start < runMs) {
      const t0 = performance.now();
      await s.log.save(batch(s.log.lastIndex() + 1, 1), null);
      latencies.push(performance.now() - t0);
      saves++;
    }
  }
  await Promise.all(Array.from({ length: appenders }, appender));
  const seconds = (performance.now() - start) / 1000;
  const syncs = s.log.syncs;
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.floor(latencies.length * 0.5)] ?? 0;
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
  const text = `| ${syncMode} | ${appenders} | ${fmt(saves / seconds)} | ${(saves / Math.max(1, syncs)).toFixed(1)} | ${p50.toFixed(2)} ms | ${p99.toFixed(2)} ms |`;
  return { rate: saves / seconds, text };
}

async function recovery(entries: number): Promise<string[]> {
  const dir = tempDir();
  let s = await openStorage({ dir, nodeId: 1 });
  const writeStart = performance.now();
  for (let lo = 1; lo <= entries; lo += 1000) {
    await s.log.save(batch(lo, Math.min(1000, entries - lo + 1)), { term: 1, vote: 1, commit: lo - 1 });
  }
  const writeSeconds = (performance.now() - writeStart) / 1000;
  await s.close();
  const bytes = fs.readdirSync(path.join(dir, "wal")).reduce((sum, n) => sum + fs.statSync(path.join(dir, "wal", n)).size, 0);
  const lines: string[] = [];
  for (let run = 1; run <= 3; run++) {
    Bun.gc(true);
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    s = await openStorage({ dir, nodeId: 1 });
    const ms = performance.now() - t0;
    const rssAfter = process.memoryUsage().rss;
    if (s.log.lastIndex() !== entries) throw new Error(`recovered ${s.log.lastIndex()} entries, wrote ${entries}`);
    await s.close();
    lines.push(`| ${run} | ${fmt(entries)} | ${(bytes / 1e6).toFixed(0)} MB, ${fs.readdirSync(path.join(dir, "wal")).length} segments | ${ms.toFixed(0)} ms | +${((rssAfter - rssBefore) / 1e6).toFixed(0)} MB |`);
  }
  lines.push(`\n(writing that log in saves of 1000 entries: ${fmt(entries / writeSeconds)} entries/s)`);
  fs.rmSync(dir, { recursive: true, force: true });
  return lines;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

console.log(`# bench:storage — ${os.cpus().length} x ${os.cpus()[0]?.model ?? "cpu"}, ${os.platform()} ${os.release()}, Bun ${Bun.version}, dir ${parent}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
// Rounds alternate the two sync modes so that noise from other processes on the disk hits both alike;
// each line reports the median round.
const rounds = quick ? 1 : 3;
async function medianOf(run: () => Promise<Row>): Promise<Row> {
  const rows: Row[] = [];
  for (let r = 0; r < rounds; r++) rows.push(await run());
  rows.sort((a, b) => a.rate - b.rate);
  return rows[Math.floor(rows.length / 2)]!;
}
console.log(`\n## Sequential appends, one fdatasync per batch (${entryBytes}-byte entries + hard state), median of ${rounds} rounds`);
console.log("| fdatasync | batch | batches/s | entries/s | MB/s | syncs/s |\n|---|---|---|---|---|---|");
for (const size of [1, 16, 256]) for (const mode of ["async", "sync"] as const) console.log((await medianOf(() => sequential(mode, size))).text);
console.log(`\n## Group commit: N concurrent appenders, one ${entryBytes}-byte entry per save, each awaits durability, median of ${rounds} rounds`);
console.log("| fdatasync | appenders | saves/s | saves/sync | latency p50 | latency p99 |\n|---|---|---|---|---|---|");
for (const n of [1, 4, 16, 64, 256]) for (const mode of ["async", "sync"] as const) console.log((await medianOf(() => concurrent(mode, n))).text);
console.log(`\n## Recovery: openStorage on a log of 100-byte entries (default 64 MiB segments)`);
console.log("| run | entries | on disk | open time | RSS growth |\n|---|---|---|---|---|");
for (const line of await recovery(quick ? 100_000 : 1_000_000)) console.log(line);
console.log(`\nload average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
