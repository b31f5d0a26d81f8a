#!/usr/bin/env bun
// Where every node's CPU goes under the HTTP put load of `bun run bench compare`: a 3-node qklzl from source with
// `bun --cpu-prof` on every node, `wrk -t2 -c64` of ../shared/bench/qklzl-put.lua for PROF_MS (15 s) against the
// leader, a clean stop so the profiles are written, then each node's profile split by subsystem and by
// self-time function for the load window only (scripts/cpuprofile_split.ts). The followers matter as much as
// the leader here: three nodes share two cores. Usage: bun scripts/profile_http.ts [DIR] (BENCH_VALUE_SIZE=N)
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Launcher } from "../src/cli/launcher/index.ts";

const repo = join(import.meta.dir, "..");
const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), "qklzl-prof-"));
const loadMs = Number(process.env.PROF_MS ?? "15000");
const cluster = new Launcher({
  name: "prof",
  command: [process.execPath, "--cpu-prof", `--cpu-prof-dir=${dir}`, join(repo, "src", "cli", "main.ts")],
  output: "ignore",
  env: { CONSOLA_LEVEL: "1" },
});
const pids: Array<{ role: string; pid: number }> = [];
let stopMs = 0;
try {
  const { leaderId } = await cluster.startFresh();
  for (const id of [1, 2, 3]) pids.push({ role: id === leaderId ? `leader (node ${id})` : `follower (node ${id})`, pid: cluster.node(id).proc!.pid });
  const wrk = Bun.spawnSync(
    ["wrk", "-t2", "-c64", `-d${Math.round(loadMs / 1000)}s`, "-s", process.env.PROF_SCRIPT ?? "/work/shared/bench/qklzl-put.lua", `http://${cluster.node(leaderId).httpAddr}`],
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
