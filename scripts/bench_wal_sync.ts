// bench_wal_sync.ts: one save of one 100-byte entry at a time (await each, inline fdatasync, as a follower at
// one connection), in PROCS processes at once on the same disk (a 3-node cluster on one machine). Prints the
// p50/p90/p99 of a save in µs per process. `--src DIR` takes the storage layer from another tree (A/B against
// main: --src /work/main/src). usage: bun scripts/bench_wal_sync.ts [--src DIR] [--procs 3] [--ms 3000]
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const src = path.resolve(arg("--src", path.join(import.meta.dir, "..", "src")));
const procs = Number(arg("--procs", "3"));
const ms = Number(arg("--ms", "3000"));

if (args.includes("--child")) {
  const { openStorage } = await import(path.join(src, "storage", "index.ts"));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qklzl-walsync-"));
  const s = await openStorage({ dir, nodeId: 1, segmentBytes: 64 * 1024 * 1024 });
  s.log.setInlineSync?.(true);
  const data = new Uint8Array(100).fill(7);
  const times: number[] = [];
  const end = performance.now() + ms;
  for (let i = 1; performance.now() < end; i++) {
    const t = performance.now();
    await s.log.save([{ kind: "normal", index: i, term: 1, data }], { term: 1, vote: 1, commit: i - 1 });
    times.push((performance.now() - t) * 1000);
    await new Promise((resolve) => setImmediate(resolve)); // the loop turns between saves, as in a node
  }
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  const q = (f: number) => times[Math.floor(f * times.length)]!.toFixed(0);
  console.log(`saves=${times.length} p50_us=${q(0.5)} p90_us=${q(0.9)} p99_us=${q(0.99)}`);
} else {
  const children = Array.from({ length: procs }, () =>
    Bun.spawn([process.execPath, import.meta.path, "--child", "--src", src, "--ms", String(ms)], { stdout: "pipe", stderr: "inherit" }),
  );
  const lines = await Promise.all(children.map((c) => new Response(c.stdout).text()));
  console.log(`src=${src} load=${os.loadavg()[0]!.toFixed(2)}\n${lines.map((l) => `  ${l.trim()}`).join("\n")}`);
}
