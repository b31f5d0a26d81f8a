#!/usr/bin/env bun
// Splits a .cpuprofile (bun --cpu-prof, Chrome format) by subsystem: each sample goes to the innermost frame
// on its stack that belongs to one (so protobufjs called by grpc-js counts as protobuf, the WAL called by the
// runtime loop as WAL). Usage: bun scripts/cpuprofile_split.ts FILE [SKIP_END_MS LENGTH_MS] [--top]: with the window,
// only samples from LENGTH_MS up to SKIP_END_MS before the profile's end count (the load, not start or stop).
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

const args = process.argv.slice(2);
const top = args.includes("--top"); // also list the functions with the most self time
// --count: every sample weighs the same. The default weighs a sample by the time since the one before, which
// gives a thread's idle gaps to the first function that runs after them (an fsync callback, a socket read).
const byCount = args.includes("--count");
const [file, skipEnd, length] = args.filter((a) => !a.startsWith("--"));
if (file === undefined) throw new Error("usage: bun scripts/cpuprofile_split.ts FILE [SKIP_END_MS LENGTH_MS]");
const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
const rules: Array<[string, (url: string) => boolean]> = [
  ["protobuf (proto-loader/protobufjs reflection)", (u) => u.includes("protobufjs") || u.includes("proto-loader")],
  ["MVCC apply (src/kv)", (u) => u.includes("/src/kv/")],
  ["WAL (src/storage)", (u) => u.includes("/src/storage/")],
  ["peer transport + msgpackr (src/transport)", (u) => u.includes("/src/transport/") || u.includes("msgpackr")],
  ["Raft core (src/raft)", (u) => u.includes("/src/raft/")],
  ["etcd adapter (src/node/grpc)", (u) => u.includes("/src/node/grpc/")],
  ["grpc-js", (u) => u.includes("@grpc/grpc-js")],
  ["Bun node:http2 + streams + events", (u) => u.startsWith("node:http2") || u.includes("internal:streams") || u === "node:events"],
  ["HTTP API (src/node/http)", (u) => u.includes("/src/node/http/")],
  ["runtime, proposals, reads (src/node)", (u) => u.includes("/src/node/")],
];
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
const at: number[] = [];
let clock = 0;
for (const delta of profile.timeDeltas) at.push((clock += delta));
const end = clock;
const hi = skipEnd === undefined ? end : end - Number(skipEnd) * 1000;
const lo = length === undefined ? -Infinity : hi - Number(length) * 1000;
const totals = new Map<string, number>();
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  if (at[i]! < lo || at[i]! > hi) continue;
  const weight = byCount ? 1 : i === 0 ? 0 : at[i]! - at[i - 1]!;
  total += weight;
  const leaf = byId.get(profile.samples[i]!)!.callFrame;
  const where = `${leaf.functionName || "(anonymous)"} ${(leaf.url ?? "").replace(/^.*\/(src|node_modules)\//, "$1/")}`;
  self.set(where, (self.get(where) ?? 0) + weight);
  let name = "unattributed (natives, GC, builtins at the top)";
  for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
    const url = byId.get(id)!.callFrame.url ?? "";
    const rule = rules.find(([, test]) => test(url));
    if (rule !== undefined) {
      name = rule[0];
      break;
    }
  }
  totals.set(name, (totals.get(name) ?? 0) + weight);
}
console.log(`${byCount ? `${total} samples` : `${(total / 1e6).toFixed(2)} s of samples`}${skipEnd === undefined ? "" : ` in the window (${length} ms ending ${skipEnd} ms before the end)`}`);
for (const [name, t] of [...totals].sort((a, b) => b[1] - a[1])) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`);
if (top) {
  console.log("top self time:");
  for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`);
}
