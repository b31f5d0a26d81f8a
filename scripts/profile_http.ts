#!/usr/bin/env bun
// Where every node's CPU goes under the HTTP put load of `bun run bench compare`: a 3-node qklzl from source with
// `bun --cpu-prof` on every node, `wrk -t2 -c64` of ../shared/bench/qklzl-put.lua for PROF_MS (15 s) against the
// leader, a clean stop so the profiles are written, then each node's profile split by subsystem and by
// self-time function for the load window only (scripts/cpuprofile_split.ts). The followers matter as much as
// the leader here: three nodes share two cores. Usage: bun scripts/profile_http.ts [DIR] (BENCH_VALUE_SIZE=N).
// PROF_OP=get profiles linearizable reads instead: every key is written once first (qklzl-put.lua's BENCH_FILL
// mode), then qklzl-get.lua runs for PROF_MS.
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Launcher } from "../src/cli/launcher/index.ts";

const repo = join(import.meta.dir, "..");
const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "qklzl-prof-"));
const loadMs = Number(process.env.PROF_MS ?? "15000");
const portBase = process.env.PROF_PORTBASE === undefined ? null : Number(process.env.PROF_PORTBASE);
const cluster = new Launcher({
  name: "prof",
  command: [process.execPath, "--cpu-prof", `--cpu-prof-dir=${dir}`, join(repo, "src", "cli", "main.ts")],
  output: "ignore",
  env: { CONSOLA_LEVEL: "1" },
  // PROF_PORTBASE=P: node i listens on P+i (HTTP) and P+100+i (Raft), for runs beside others on one machine.
  ...(portBase === null ? {} : { addrs: (id: number) => ({ httpAddr: `127.0.0.1:${portBase + id}`, raftAddr: `127.0.0.1:${portBase + 100 + id}` }) }),
});
const pids: Array<{ role: string; pid: number }> = [];
let stopMs = 0;
try {
  const { leaderId } = await cluster.startFresh();
  for (const id of [1, 2, 3]) pids.push({ role: id === leaderId ? `leader (node ${id})` : `follower (node ${id})`, pid: cluster.node(id).proc!.pid });
  const bench = process.env.QKLZL_BENCH_DIR ?? join(repo, "..", "shared", "bench"); // a worktree elsewhere names it
  const leaderUrl = `http://${cluster.node(leaderId).httpAddr}`;
  const reads = process.env.PROF_OP === "get";
  if (reads) await fill(bench, leaderUrl, join(dir, "fill"));
  const wrk = Bun.spawnSync(
    ["wrk", "-t2", "-c64", `-d${Math.round(loadMs / 1000)}s`, "-s", join(bench, reads ? "qklzl-get.lua" : "qklzl-put.lua"), leaderUrl],
    { stdout: "pipe", stderr: "inherit", env: process.env },
  );
  const line = wrk.stdout.toString().split("\n").find((l) => l.startsWith("WRKRESULT")) ?? wrk.stdout.toString();
  console.log(line);
  const started = performance.now();
  await cluster.stopAll(20_000); // a clean exit writes the profiles
  stopMs = performance.now() - started;
} finally {
  await cluster.destroy();
}
for (const { role, pid } of pids) {
  const profile = readdirSync(dir).filter((f) => f.includes(`.${pid}.`)).map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (profile === undefined) throw new Error(`no profile of ${role} (pid ${pid}) in ${dir}`);
  console.log(`\n## ${role}: ${profile}`);
  Bun.spawnSync([process.execPath, join(import.meta.dir, "cpuprofile_split.ts"), profile, String(Math.round(stopMs + 500)), String(loadMs - 2000), "--top"], {
    stdout: "inherit",
    stderr: "inherit",
  });
}
process.exit(0);

/** fill writes every key of the read benchmark once (bounded: 120 s), so every GET finds its key. */
async function fill(bench: string, url: string, marker: string): Promise<void> {
  const wrk = Bun.spawn(["wrk", "-t1", "-c16", "-d120s", "-s", join(bench, "qklzl-put.lua"), url], {
    stdout: "ignore",
    stderr: "inherit",
    env: { ...process.env, BENCH_FILL: "1", BENCH_FILL_MARKER: marker },
  });
  const deadline = performance.now() + 120_000;
  while (!existsSync(`${marker}.0`) && performance.now() < deadline) await Bun.sleep(100);
  wrk.kill("SIGINT");
  await wrk.exited;
}
