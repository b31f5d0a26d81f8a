#!/usr/bin/env bun
// `npm start`: build bin/qklzl if needed, then run a local 3-node cluster in the foreground with data under
// ./.qklzl/. Node 1 bootstraps on 127.0.0.1:12001/8001, nodes 2 and 3 join it. Ctrl-C (or SIGTERM) stops all
// three cleanly. Run it again and the nodes restart from their data (the same commands are safe on restart).
// Options (after `npm start --`): --clean wipes the data first; --from-source runs `bun src/cli/main.ts`
// instead of the binary (no build); --data DIR, --http-port-base N, --raft-port-base N move the cluster
// (node i listens on base+i), which lets a test run it beside anything else. Each node also serves etcd's v3
// gRPC API (-grpc-addr) on etcd's usual local ports 127.0.0.1:2379, :22379, :32379, or base+i with --grpc-port-base N.

import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import type { StatusJson } from "../src/node/api.ts";

const repo = join(import.meta.dir, "..");
const binary = join(repo, "bin", "qklzl");
const start_deadline_ms = 60_000;
const stop_deadline_ms = 20_000;

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    clean: { type: "boolean", default: false },
    "from-source": { type: "boolean", default: false },
    data: { type: "string", default: join(repo, ".qklzl") },
    "http-port-base": { type: "string", default: "8000" },
    "raft-port-base": { type: "string", default: "12000" },
    "grpc-port-base": { type: "string" },
  },
  strict: true,
});
const dataRoot = resolve(flags.data);
const httpBase = Number(flags["http-port-base"]);
const raftBase = Number(flags["raft-port-base"]);
const grpcBase = flags["grpc-port-base"] === undefined ? null : Number(flags["grpc-port-base"]);
if (![httpBase, raftBase, grpcBase ?? 1].every((base) => Number.isInteger(base) && base > 0 && base + 3 <= 65535)) {
  process.stderr.write("cluster: --http-port-base, --raft-port-base and --grpc-port-base must be integers in 1..65532\n");
  process.exit(2);
}
/** command: how a node is started; the binary unless --from-source. */
const command = flags["from-source"] ? [process.execPath, join(repo, "src", "cli", "main.ts")] : [binary];

interface NodeSpec {
  id: number;
  raftAddr: string;
  httpAddr: string;
  grpcAddr: string;
  dataDir: string;
}

const nodes: NodeSpec[] = [1, 2, 3].map((id) => ({
  id,
  raftAddr: `127.0.0.1:${raftBase + id}`,
  httpAddr: `127.0.0.1:${httpBase + id}`,
  grpcAddr: `127.0.0.1:${grpcBase === null ? [2379, 22379, 32379][id - 1] : grpcBase + id}`,
  dataDir: join(dataRoot, `n${id}`),
}));

/** shown: a path as the user would type it from the repo root. */
function shown(path: string): string {
  const rel = relative(repo, path);
  return rel.startsWith("..") ? path : `./${rel}`;
}

function say(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

/** newestSourceMtime: the binary is stale when anything it is built from changed after it. */
function newestSourceMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestSourceMtime(path) : stat.mtimeMs);
  }
  return newest;
}

async function buildIfNeeded(): Promise<void> {
  const sourcesMtime = Math.max(newestSourceMtime(join(repo, "src")), statSync(join(repo, "package.json")).mtimeMs);
  if (existsSync(binary) && statSync(binary).mtimeMs >= sourcesMtime) return;
  say(existsSync(binary) ? "sources changed since the last build: rebuilding bin/qklzl" : "building bin/qklzl (bun build --compile)");
  const started = performance.now();
  const build = Bun.spawnSync([process.execPath, "build", "--compile", "src/cli/main.ts", "--outfile", "bin/qklzl"], { cwd: repo, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) {
    process.stderr.write(build.stdout.toString() + build.stderr.toString());
    say("build failed");
    process.exit(1);
  }
  say(`built bin/qklzl in ${Math.round(performance.now() - started)} ms`);
}

/** busyPorts tries to bind each port; a running cluster (or anything else) on them is reported up front. */
function busyPorts(): string[] {
  const busy: string[] = [];
  for (const addr of nodes.flatMap((node) => [node.httpAddr, node.raftAddr, node.grpcAddr])) {
    const [hostname, port] = addr.split(":") as [string, string];
    try {
      Bun.listen({ hostname, port: Number(port), socket: { data() {} } }).stop(true);
    } catch {
      busy.push(addr);
    }
  }
  return busy;
}

function nodeArgs(node: NodeSpec): string[] {
  const common = ["-id", String(node.id), "-data-dir", shown(node.dataDir), "-raft-addr", node.raftAddr, "-http-addr", node.httpAddr, "-grpc-addr", node.grpcAddr];
  // On existing data both flags are safe no-ops for the log; -bootstrap makes node 1 the designated leader.
  if (node.id === 1) return [...common, "-bootstrap"];
  return [...common, "-join", nodes[0]!.httpAddr];
}

/** pipeLines copies a child's output to ours, one prefixed line at a time. */
async function pipeLines(stream: ReadableStream<Uint8Array>, prefix: string, out: NodeJS.WriteStream): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    // consola's fancy reporter pads warnings with blank lines; they carry nothing once prefixed.
    for (const line of lines) if (line.trim() !== "") out.write(`${prefix} ${line}\n`);
  }
  if (pending.trim() !== "") out.write(`${prefix} ${pending}\n`);
}

const children = new Map<number, Subprocess<"ignore", "pipe", "pipe">>();
let stopping = false;

function spawnNode(node: NodeSpec): void {
  const args = nodeArgs(node);
  say(`starting node ${node.id}: ${flags["from-source"] ? "bun src/cli/main.ts" : "bin/qklzl"} ${args.join(" ")}`);
  const child = Bun.spawn([...command, ...args], { cwd: repo, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
  children.set(node.id, child);
  void pipeLines(child.stdout, `[n${node.id}]`, process.stdout);
  void pipeLines(child.stderr, `[n${node.id}]`, process.stderr);
  void child.exited.then((code) => {
    children.delete(node.id);
    if (!stopping) say(`node ${node.id} exited with code ${code}${children.size === 0 ? "; no node left, exiting" : ""}`);
    if (!stopping && children.size === 0) process.exit(1);
  });
}

async function fetchStatus(node: NodeSpec): Promise<StatusJson | null> {
  try {
    const response = await fetch(`http://${node.httpAddr}/status`, { signal: AbortSignal.timeout(1000) });
    return response.ok ? ((await response.json()) as StatusJson) : null;
  } catch {
    return null;
  }
}

/** waitFor polls condition every 100 ms until it holds or the deadline passes (then it explains and exits). */
async function waitFor(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + start_deadline_ms;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      say(`gave up after ${start_deadline_ms / 1000} s waiting for ${what}`);
      await stopAll(1);
    }
    await Bun.sleep(100);
  }
}

/** isVoter: node `id` is a voter in the configuration of a node that knows a leader. */
async function isVoter(id: number): Promise<boolean> {
  const statuses = await Promise.all(nodes.map(fetchStatus));
  return statuses.some((s) => s !== null && s.leader_id !== 0 && s.members.some((m) => m.id === id && m.role === "voter"));
}

async function allAgree(): Promise<boolean> {
  const statuses = await Promise.all(nodes.map(fetchStatus));
  if (statuses.some((s) => s === null)) return false;
  const leaders = new Set(statuses.map((s) => s!.leader_id));
  return leaders.size === 1 && !leaders.has(0) && statuses.every((s) => s!.members.filter((m) => m.role === "voter").length === nodes.length);
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  say(`stopping ${children.size} node(s)`);
  for (const child of children.values()) child.kill("SIGTERM");
  const deadline = Bun.sleep(stop_deadline_ms).then(() => "late" as const);
  const outcome = await Promise.race([Promise.all([...children.values()].map((child) => child.exited)), deadline]);
  if (outcome === "late") {
    say(`some nodes did not stop within ${stop_deadline_ms / 1000} s: killing them`);
    for (const child of children.values()) child.kill("SIGKILL");
  }
  say("stopped");
  process.exit(code);
}

async function main(): Promise<void> {
  if (flags.clean) {
    rmSync(dataRoot, { recursive: true, force: true });
    say(`removed ${shown(dataRoot)}`);
  }
  if (!flags["from-source"]) await buildIfNeeded();
  const busy = busyPorts();
  if (busy.length > 0) {
    say(`cannot start: ${busy.join(", ")} already in use. Is another qklzl cluster running? (find it with: lsof -i :${busy[0]!.split(":")[1]})`);
    process.exit(1);
  }
  const fresh = !existsSync(nodes[0]!.dataDir);
  mkdirSync(dataRoot, { recursive: true });
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));
  // Safety net: never leave detached nodes behind if this script dies some other way.
  process.on("exit", () => {
    for (const child of children.values()) child.kill("SIGTERM");
  });
  say(fresh ? `new cluster: data in ${shown(dataRoot)}` : `restarting from ${shown(dataRoot)} (npm start -- --clean starts over)`);
  if (fresh) {
    // One membership change at a time: node 2 joins once node 1 leads, node 3 once node 2 is a voter.
    spawnNode(nodes[0]!);
    await waitFor("node 1 to lead", async () => (await fetchStatus(nodes[0]!))?.is_leader === true);
    spawnNode(nodes[1]!);
    await waitFor("node 2 to become a voter", () => isVoter(2));
    spawnNode(nodes[2]!);
  } else {
    // A restarted node needs a quorum before anyone can lead: start all three together.
    for (const node of nodes) spawnNode(node);
  }
  await waitFor("all three nodes to be voters and agree on a leader", allAgree);
  // On a restart node 1 (-bootstrap) is the designated leader and takes over once a quorum is up: give it a
  // moment, so the leader printed below is the one that stays.
  const handover = Date.now() + 10_000;
  while ((await fetchStatus(nodes[0]!))?.is_leader !== true && Date.now() < handover) await Bun.sleep(100);
  const leader = (await fetchStatus(nodes[0]!))?.leader_id ?? 0;
  printWelcome(leader);
}

function printWelcome(leader: number): void {
  const [a1, a2, a3] = nodes.map((n) => n.httpAddr) as [string, string, string];
  const lines = [
    "",
    `qklzl cluster is up: 3 voters, leader node ${leader}. Ctrl-C stops all three.`,
    ...nodes.map((n) => `  node ${n.id}: HTTP http://${n.httpAddr}  Raft ${n.raftAddr}  etcd gRPC ${n.grpcAddr}  data ${shown(n.dataDir)}`),
    "",
    "Try, in another terminal:",
    `  bin/qklzl status --addr ${a1}`,
    `  bin/qklzl kv put greeting 'hello world' --addr ${a1}`,
    `  bin/qklzl kv get greeting --addr ${a2}`,
    `  bin/qklzl kv delete greeting --addr ${a1}`,
    `  curl -X POST -H "Content-Type: application/json" -d '{"op":"put","key":"test1","value":"hello world"}' http://${a1}/kv`,
    `  curl "http://${a3}/kv?key=test1"`,
    `  curl http://${a2}/status`,
    `  etcdctl --endpoints=${nodes.map((n) => n.grpcAddr).join(",")} endpoint status    # etcd's own CLI (apt-get install etcd-client)`,
    `  etcdctl --endpoints=${nodes[1]!.grpcAddr} put greeting hello && etcdctl --endpoints=${nodes[2]!.grpcAddr} get greeting`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
