import { defineCommand } from "citty";
import { measureFailover } from "./failover.ts";
import { runLoad, type LoadResult } from "./load.ts";
import { fetchStatus, type MemberHttp } from "../../node/cluster_client.ts";
import { benchCluster } from "./cluster.ts";
import { parseMix } from "./workload.ts";

function numberArg(value: unknown, name: string, min: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    process.stderr.write(`qklzl bench: --${name} must be an integer ≥ ${min}, got "${String(value)}"\n`);
    process.exit(2);
  }
  return parsed;
}

function formatTable(result: LoadResult): string {
  const rows = [["op", "ops", "errors", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"]];
  const entries = [...Object.entries(result.byOp), ["all", result.total] as const];
  for (const [op, r] of entries) {
    if (!r) continue;
    const l = r.latencyMs;
    rows.push([op, String(r.ops), String(r.errors), r.throughput.toFixed(0), l.p50.toFixed(2), l.p90.toFixed(2), l.p99.toFixed(2), l.p999.toFixed(2), l.max.toFixed(2)]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padStart(widths[column]!)).join("  ")).join("\n");
}

async function findFollower(leaderAddr: string, via?: MemberHttp): Promise<string> {
  const body = await fetchStatus(leaderAddr, 1000, via);
  const follower = body?.members?.find((member) => member.http_addr !== leaderAddr && member.role === "voter");
  if (!follower) throw new Error("no follower to read from");
  return follower.http_addr;
}

async function findLeader(addr: string, via?: MemberHttp): Promise<string> {
  const body = await fetchStatus(addr, 1000, via);
  if (!body) throw new Error(`no /status answer from ${addr}`);
  return body.is_leader ? addr : body.leader_http_addr || addr;
}

async function runFailover(roundsArg: unknown, json: boolean): Promise<void> {
  const rounds = numberArg(roundsArg, "rounds", 1);
  const onRound = (round: number, ms: number) => process.stderr.write(`round ${round}/${rounds}: first write acknowledged ${ms.toFixed(0)} ms after kill -9\n`);
  const result = await measureFailover(rounds, { onRound });
  if (json) console.log(JSON.stringify(result));
  else console.log(`failover: median ${result.medianMs.toFixed(0)} ms over ${rounds} rounds (${result.samplesMs.map((ms) => ms.toFixed(0)).join(", ")} ms)`);
}

export const benchCommand = defineCommand({
  meta: { name: "bench", description: "Closed-loop load against a cluster (--addr) or a local 3-node cluster it starts itself" },
  args: {
    mode: { type: "positional", required: false, default: "load", description: "load (default) | failover: kill -9 the leader of a local 3-node cluster and time the first acknowledged write after it" },
    rounds: { type: "string", default: "5", description: "failover: how many leader kills to time" },
    addr: { type: "string", description: "HTTP address of any member; omitted: start a local 3-node cluster" },
    "read-addr": { type: "string", description: "Send gets here instead of the leader" },
    "read-from": { type: "string", default: "leader", description: "leader | follower: where gets go when --read-addr is not given" },
    clients: { type: "string", default: "64", description: "Concurrent closed-loop clients" },
    duration: { type: "string", default: "10", description: "Seconds of load" },
    keys: { type: "string", default: "10000", description: "Key space (bench-key-%08d)" },
    "value-size": { type: "string", default: "100", description: "Value size in bytes" },
    mix: { type: "string", default: "put:100", description: "Op weights, e.g. put:80,get:20" },
    consistency: { type: "string", default: "linearizable", description: "linearizable | stale reads" },
    json: { type: "boolean", default: false, description: "Print the result as JSON" },
    tls: { type: "boolean", default: false, description: "Local cluster only: TLS on every port (throw-away certificates, openssl), to measure its cost" },
  },
  async run({ args }) {
    if (args.mode === "failover") return runFailover(args.rounds, args.json);
    if (args.mode !== "load") {
      process.stderr.write(`qklzl bench: unknown mode "${args.mode}" (load | failover)\n`);
      process.exit(2);
    }
    const consistency = args.consistency;
    if (consistency !== "linearizable" && consistency !== "stale") {
      process.stderr.write(`qklzl bench: --consistency must be linearizable or stale\n`);
      process.exit(2);
    }
    let mix;
    try {
      mix = parseMix(args.mix);
    } catch (error) {
      process.stderr.write(`qklzl bench: ${(error as Error).message}\n`);
      process.exit(2);
    }
    const clients = numberArg(args.clients, "clients", 1);
    const durationMs = numberArg(args.duration, "duration", 1) * 1000;
    const keys = numberArg(args.keys, "keys", 1);
    const valueSize = numberArg(args["value-size"], "value-size", 0);
    if (args.tls && args.addr) {
      process.stderr.write("qklzl bench: --tls is for the local cluster it starts (omit --addr)\n");
      process.exit(2);
    }
    const cluster = args.addr ? null : benchCluster({ tls: args.tls });
    const via: MemberHttp | undefined = cluster?.tls?.http;
    try {
      if (cluster) process.stderr.write("starting a local 3-node cluster…\n");
      const entry = cluster === null ? String(args.addr) : cluster.node((await cluster.startFresh()).leaderId).httpAddr;
      const writeAddr = await findLeader(entry, via);
      const readAddr = args["read-addr"] ?? (args["read-from"] === "follower" ? await findFollower(writeAddr, via) : writeAddr);
      const result = await runLoad({
        tls: via?.tls,
        writeAddr,
        readAddr,
        clients,
        durationMs,
        keys,
        valueSize,
        mix,
        consistency,
        onProgress: (elapsedMs, ops, errors) =>
          process.stderr.write(`${(elapsedMs / 1000).toFixed(0)}s: ${ops} ops (${((ops * 1000) / elapsedMs).toFixed(0)}/s), ${errors} errors\n`),
      });
      if (args.json) console.log(JSON.stringify(result));
      else {
        console.log(`${clients} clients, ${(result.durationMs / 1000).toFixed(1)} s${via ? ", TLS on every port" : ""}, writes → ${writeAddr}, reads → ${readAddr} (${consistency})`);
        console.log(formatTable(result));
        if (result.firstError) console.log(`first error: ${result.firstError}`);
      }
    } finally {
      await cluster?.destroy();
    }
  },
});
