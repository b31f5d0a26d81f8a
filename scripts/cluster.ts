#!/usr/bin/env bun
// `npm start`: build bin/qklzl if needed, then run a local 3-node cluster in the foreground with data under
// ./.qklzl/. Node 1 bootstraps on 127.0.0.1:12001/8001, nodes 2 and 3 join it. Ctrl-C (or SIGTERM) stops all
// three cleanly. Run it again and the nodes restart from their data (the same commands are safe on restart).
// Options (after `npm start --`): --clean wipes the data first; --from-source runs `bun src/cli/main.ts`
// instead of the binary (no build); --data DIR, --http-port-base N, --raft-port-base N move the cluster
// (node i listens on base+i), which lets a test run it beside anything else. Each node also serves etcd's v3
// gRPC API (-grpc-addr) on etcd's usual local ports 127.0.0.1:2379, :22379, :32379, or base+i with --grpc-port-base N.
// --tls makes a throw-away CA and node certificates under DATA/tls (openssl; kept for the next --tls run) and
// turns TLS on for the HTTP API, the etcd gRPC ports (the same certificate flags) and the peer ports (mutual).

import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { busyAddrs, Launcher, type NodeHandle, type StartMode } from "../src/cli/launcher/index.ts";
import { clusterTls, opensslPath, type ClusterTls } from "../src/cli/tls_pki.ts";
import { binaryIsStale, binaryPath as binary, buildBinary } from "./build_binary.ts";

const repo = join(import.meta.dir, "..");
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
    tls: { type: "boolean", default: false },
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

/** grpcAddr: node `id`'s etcd gRPC address. */
function grpcAddr(id: number): string {
  return `127.0.0.1:${grpcBase === null ? [2379, 22379, 32379][id - 1] : grpcBase + id}`;
}

/** tls: the throw-away certificates (--tls), made before any node starts; null without --tls. */
const tls = flags.tls ? makeClusterTls() : null;

function makeClusterTls(): ClusterTls {
  if (opensslPath() === null) {
    process.stderr.write("cluster: --tls needs the openssl binary (node:crypto cannot create X.509 certificates); install openssl\n");
    process.exit(2);
  }
  return clusterTls(join(dataRoot, "tls"), [1, 2, 3]);
}

/** NpmStartCluster: the one launcher, saying each start the way a person would read it. */
class NpmStartCluster extends Launcher {
  override start(id: number, mode: StartMode = {}): Promise<NodeHandle> {
    const withGrpc = { ...mode, extraArgs: [...(mode.extraArgs ?? []), "-grpc-addr", grpcAddr(id)] };
    say(`starting node ${id}: ${flags["from-source"] ? "bun src/cli/main.ts" : "bin/qklzl"} ${this.startArgs(id, withGrpc).join(" ")}`);
    return super.start(id, withGrpc);
  }
}

let stopping = false;
const cluster = new NpmStartCluster({
  root: dataRoot,
  dataDirName: (id) => `n${id}`,
  addrs: (id) => ({ raftAddr: `127.0.0.1:${raftBase + id}`, httpAddr: `127.0.0.1:${httpBase + id}` }),
  command,
  cwd: repo,
  nodeArgs: tls === null ? undefined : (id) => tls.nodeArgs(id),
  http: tls?.http,
  output: { stdout: process.stdout, stderr: process.stderr },
  // Our Ctrl-C must not reach the nodes directly: stopAll() stops them, with a deadline.
  detached: true,
  onExit: (id, code) => {
    const left = cluster.running().length;
    if (!stopping) say(`node ${id} exited with code ${code}${left === 0 ? "; no node left, exiting" : ""}`);
    if (!stopping && left === 0) process.exit(1);
  },
});
const nodes = [...cluster.nodes.values()];

/** shown: a path as the user would type it from the repo root. */
function shown(path: string): string {
  const rel = relative(repo, path);
  return rel.startsWith("..") ? path : `./${rel}`;
}

function say(line: string): void {
  process.stdout.write(`[cluster] ${line}\n`);
}

async function buildIfNeeded(): Promise<void> {
  if (!binaryIsStale()) return;
  say(existsSync(binary) ? "sources changed since the last build: rebuilding bin/qklzl" : "building bin/qklzl (bun build --compile)");
  const started = performance.now();
  try {
    await buildBinary();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    say("build failed");
    process.exit(1);
  }
  say(`built bin/qklzl in ${Math.round(performance.now() - started)} ms`);
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  say(`stopping ${cluster.running().length} node(s)`);
  const late = await cluster.stopAll(stop_deadline_ms);
  if (late.length > 0) say(`node(s) ${late.join(", ")} did not stop within ${stop_deadline_ms / 1000} s: killed them`);
  say("stopped");
  process.exit(code);
}

/** formOrExit runs one step of the start-up; when it fails (a wait timed out, a node exited), it says why and stops all. */
async function formOrExit(step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (error) {
    say(`gave up: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll(1);
  }
}

async function main(): Promise<void> {
  if (flags.clean) {
    rmSync(dataRoot, { recursive: true, force: true });
    say(`removed ${shown(dataRoot)}`);
  }
  if (!flags["from-source"]) await buildIfNeeded();
  const busy = busyAddrs(nodes.flatMap((node) => [node.httpAddr, node.raftAddr, grpcAddr(node.id)]));
  if (busy.length > 0) {
    say(`cannot start: ${busy.join(", ")} already in use. Is another qklzl cluster running? (find it with: lsof -i :${busy[0]!.split(":")[1]})`);
    process.exit(1);
  }
  const fresh = !existsSync(nodes[0]!.dataDir);
  mkdirSync(dataRoot, { recursive: true });
  process.on("SIGINT", () => void stopAll(0));
  process.on("SIGTERM", () => void stopAll(0));
  // Safety net: never leave detached nodes behind if this script dies some other way.
  process.on("exit", () => cluster.signalAllSync("SIGTERM"));
  say(fresh ? `new cluster: data in ${shown(dataRoot)}` : `restarting from ${shown(dataRoot)} (npm start -- --clean starts over)`);
  const ids = cluster.ids;
  if (fresh) {
    // One membership change at a time: node 2 joins once node 1 leads, node 3 once node 2 is a voter.
    await formOrExit(() => cluster.startFresh({ deadlineMs: start_deadline_ms }));
  } else {
    // A restarted node needs a quorum before anyone can lead: start all three together.
    for (const id of ids) await cluster.start(id, id === 1 ? { bootstrap: true } : { join: 1 });
    await formOrExit(async () => {
      for (const id of ids) await cluster.waitForVoters(id, ids, start_deadline_ms);
      await cluster.waitForLeader({ among: ids, deadlineMs: start_deadline_ms, what: "all three nodes to be voters and agree on a leader" });
    });
  }
  // On a restart node 1 (-bootstrap) is the designated leader and takes over once a quorum is up: give it a
  // moment, so the leader printed below is the one that stays.
  const handover = Date.now() + 10_000;
  while ((await cluster.status(1))?.is_leader !== true && Date.now() < handover) await Bun.sleep(100);
  const leader = (await cluster.status(1))?.leader_id ?? 0;
  printWelcome(leader);
}

function printWelcome(leader: number): void {
  const [a1, a2, a3] = nodes.map((n) => n.httpAddr) as [string, string, string];
  if (tls !== null) return printTlsWelcome(leader, tls, [a1, a2, a3]);
  const lines = [
    "",
    `qklzl cluster is up: 3 voters, leader node ${leader}. Ctrl-C stops all three.`,
    ...nodes.map((n) => `  node ${n.id}: HTTP http://${n.httpAddr}  Raft ${n.raftAddr}  etcd gRPC ${grpcAddr(n.id)}  data ${shown(n.dataDir)}`),
    "",
    `Dashboard: http://${a1}/ui  (every node serves it: http://${a2}/ui, http://${a3}/ui)`,
    "",
    "Try, in another terminal:",
    `  bin/qklzl status --addr ${a1}`,
    `  bin/qklzl kv put greeting 'hello world' --addr ${a1}`,
    `  bin/qklzl kv get greeting --addr ${a2}`,
    `  bin/qklzl kv delete greeting --addr ${a1}`,
    `  curl -X POST -H "Content-Type: application/json" -d '{"op":"put","key":"test1","value":"hello world"}' http://${a1}/kv`,
    `  curl "http://${a3}/kv?key=test1"`,
    `  curl http://${a2}/status`,
    `  etcdctl --endpoints=${nodes.map((n) => grpcAddr(n.id)).join(",")} endpoint status    # etcd's own CLI (apt-get install etcd-client)`,
    `  etcdctl --endpoints=${grpcAddr(2)} put greeting hello && etcdctl --endpoints=${grpcAddr(3)} get greeting`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

function printTlsWelcome(leader: number, certs: ClusterTls, [a1, a2, a3]: [string, string, string]): void {
  const ca = shown(certs.client.ca);
  const lines = [
    "",
    `qklzl cluster is up with TLS: 3 voters, leader node ${leader}. Ctrl-C stops all three.`,
    ...nodes.map((n) => `  node ${n.id}: HTTP https://${n.httpAddr}  Raft ${n.raftAddr} (mutual TLS)  etcd gRPC ${grpcAddr(n.id)} (TLS)  data ${shown(n.dataDir)}`),
    `  certificates: ${shown(certs.pki.dir)} (a throw-away CA: never use it beyond this machine)`,
    "",
    "Try, in another terminal:",
    `  bin/qklzl status --addr https://${a1} --cacert ${ca}`,
    `  bin/qklzl kv put greeting 'hello world' --addr https://${a1} --cacert ${ca}`,
    `  bin/qklzl kv get greeting --addr https://${a2} --cacert ${ca}`,
    `  curl --cacert ${ca} -X POST -H "Content-Type: application/json" -d '{"op":"put","key":"test1","value":"hello world"}' https://${a1}/kv`,
    `  curl --cacert ${ca} "https://${a3}/kv?key=test1"`,
    `  etcdctl --endpoints=${nodes.map((n) => grpcAddr(n.id)).join(",")} --cacert ${ca} --cert ${shown(certs.client.cert)} --key ${shown(certs.client.key)} endpoint status`,
    `  etcdctl --endpoints=https://${grpcAddr(2)} --cacert ${ca} --cert ${shown(certs.client.cert)} --key ${shown(certs.client.key)} put greeting hello`,
    "",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

await main();
