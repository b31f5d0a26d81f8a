// trace_gaps.ts: what the leader's main thread did while its QKLZL_TRACE stamps stopped for over GAP_MS (5 ms), from a
// `perf record -k mono -g` of the leader taken in the same run (scripts/trace_gaps_run.sh). Two kinds of record:
// - cpu-clock samples (MODE cpu): how often the main thread ran inside gaps against outside them, by innermost JS
//   function (JIT frames named by scripts/jitdump_perf_map.ts), and which of the process's other threads ran;
// - sched:sched_switch events of the main thread (MODE offcpu): why it left the CPU inside gaps (S = slept: the
//   kernel function it slept in; R = preempted) and which task got the CPU.
// The window is the last 6 s of requests but 0.3 s; OFFSET_US = epoch µs − CLOCK_MONOTONIC µs, taken in the run.
//   bun scripts/trace_gaps.ts cpu|offcpu PERF_SCRIPT_OUTPUT LEADER_TRACE_FILE OFFSET_US MAIN_TID
import { readFileSync } from "node:fs";
import { TracePoint } from "../src/shared/trace.ts";

const [mode, perfFile, traceFile, offsetArg, tidArg] = process.argv.slice(2);
if (tidArg === undefined || (mode !== "cpu" && mode !== "offcpu")) {
  throw new Error("usage: bun scripts/trace_gaps.ts cpu|offcpu PERF_SCRIPT_OUTPUT LEADER_TRACE_FILE OFFSET_US MAIN_TID");
}
const offset = Number(offsetArg);
const mainTid = Number(tidArg);
/** gap_min_us: the shortest stamp gap counted (GAP_MS, default 5 ms; at one connection 1 ms is already a stall). */
const gap_min_us = Number(process.env.GAP_MS ?? "5") * 1000;
const rows = readFileSync(traceFile!, "utf8")
  .trim()
  .split("\n")
  .map((line) => line.split(" ").map(Number))
  .sort((a, b) => a[3]! - b[3]!);
const lastRequest = rows.filter((r) => r[0] === TracePoint.httpIn).at(-1)?.[3];
if (lastRequest === undefined) throw new Error(`${traceFile}: no request stamps (is it the leader's file?)`);
const end = lastRequest - 300_000;
const start = end - 6_000_000;
const gaps: Array<[number, number]> = [];
for (let i = 1; i < rows.length; i++) {
  const [a, b] = [rows[i - 1]![3]!, rows[i]![3]!];
  if (a >= start && b <= end && b - a > gap_min_us) gaps.push([a, b]);
}
const gapMs = gaps.reduce((sum, [a, b]) => sum + b - a, 0) / 1000;
const outMs = (end - start) / 1000 - gapMs;
let cursor = 0;
/** inGap: whether time t (µs, ascending across calls) falls in a gap. */
const inGap = (t: number): boolean => {
  while (cursor < gaps.length && gaps[cursor]![1] < t) cursor++;
  return cursor < gaps.length && gaps[cursor]![0] <= t;
};
const add = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);
const inside = new Map<string, number>();
const outside = new Map<string, number>();
const others = new Map<string, [number, number]>();
const nextTask = new Map<string, number>();
let nIn = 0;
let nOut = 0;
const jsName = (frame: string): string => frame.split(" ")[1]!.replace(/\+0x[0-9a-f]+$/, "").replace(/^JSC-(FTL|DFG|Baseline|LLInt)[^:]*:_?/, "");
const scheduler = /^(__schedule|schedule|schedule_timeout|schedule_hrtimeout_range.*|preempt_schedule.*|exit_to_user_mode_loop|do_syscall_64|entry_SYSCALL_64_after_hwframe|\[unknown\])$/;
for (const block of readFileSync(perfFile!, "utf8").split("\n\n")) {
  const lines = block.split("\n");
  const head = lines.find((line) => /^\S/.test(line));
  const m = head?.match(/^(.*?)\s+(\d+)\s+(?:\[\d+\]\s+)?([\d.]+):/);
  if (!m) continue;
  const t = Number(m[3]) * 1e6 + offset;
  if (t < start || t > end) continue;
  const frames = lines.filter((line) => line.startsWith("\t")).map((line) => line.trim());
  const within = inGap(t);
  if (Number(m[2]) !== mainTid) {
    const counts = others.get(m[1]!.trim()) ?? [0, 0];
    counts[within ? 0 : 1]++;
    others.set(m[1]!.trim(), counts);
    continue;
  }
  let key: string;
  if (mode === "offcpu") {
    const s = head!.match(/prev_state=(\S+) ==> next_comm=(.*?) next_pid/);
    if (!s) continue;
    const why = frames.map((f) => f.split(" ")[1]?.replace(/\+0x.*/, "") ?? "").filter((f) => f !== "" && !scheduler.test(f));
    key = `${s[1]} ${why.slice(0, 3).join(" < ")}`;
    if (within) add(nextTask, s[2]!.trim());
  } else {
    const js = frames.find((f) => f.includes("/tmp/perf-"));
    key = js !== undefined ? jsName(js) : frames[0]?.includes("[kernel") ? "(no JS frame) kernel" : "(no JS frame) native";
  }
  if (within) {
    nIn++;
    add(inside, key);
  } else {
    nOut++;
    add(outside, key);
  }
}
const what = mode === "offcpu" ? "switch-outs" : "samples";
console.log(`${gaps.length} gaps over ${gap_min_us / 1000} ms in ${((end - start) / 1e6).toFixed(1)} s (${gapMs.toFixed(0)} ms); main-thread ${what}: ${(nIn / gapMs).toFixed(2)} per ms inside, ${(nOut / outMs).toFixed(2)} outside`);
for (const [key, n] of [...inside].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`  ${((100 * n) / nIn).toFixed(1).padStart(5)} % inside, ${((100 * (outside.get(key) ?? 0)) / nOut).toFixed(1).padStart(5)} % outside  ${key}`);
}
if (nextTask.size > 0) console.log(`  the CPU went to (inside gaps): ${[...nextTask].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, n]) => `${k} ${n}`).join(", ")}`);
for (const [thread, [a, b]] of [...others].sort((x, y) => y[1][0] - x[1][0])) console.log(`  thread ${thread}: ${(a / gapMs).toFixed(2)} per ms inside, ${(b / outMs).toFixed(2)} outside`);
