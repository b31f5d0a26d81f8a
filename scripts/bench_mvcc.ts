// The issue 12 rows of `npm run bench` (step "mvcc"): range of 1,000 keys, txn CAS and puts with history on,
// qklzl (a 3-node bench cluster) against a 3-member etcd (../shared/bench/etcd-cluster.sh, JSON gateway
// /v3/kv/range, /v3/kv/txn, /v3/kv/put), one system after the other; then the 1M-key memory and restart
// figures (scripts/bench_restore.ts, in process). Every run is bounded; a missing tool or route makes a
// "skipped" row that says why, never a figure.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { benchCluster } from "../src/cli/bench/cluster.ts";
import { fillKeys } from "../src/cli/bench/load.ts";
import { keyName } from "../src/cli/bench/workload.ts";

export type Row = (figure: string, qklzl: string, etcd: string, note: string) => void;

const here = import.meta.dir;
const wrkDir = join(here, "wrk");
// ../shared/bench next to the repository (BENCH_SHARED_DIR when the checkout is elsewhere, e.g. a worktree).
const sharedBench = process.env.BENCH_SHARED_DIR ?? join(here, "..", "..", "shared", "bench");
const keys = 10_000;

function field(line: string, name: string): string {
  return new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1] ?? "NaN";
}

function describe(line: string | null): string {
  if (line === null) return "skipped (no wrk)";
  return `${field(line, "rps")}/s p50 ${field(line, "p50_ms")} ms p99 ${field(line, "p99_ms")} ms${field(line, "non2xx") !== "0" ? ` (non2xx ${field(line, "non2xx")})` : ""}`;
}

/** wrk runs a script (a path) against url; returns its WRKRESULT line, or null without wrk. */
function wrk(script: string, url: string, seconds: number, connections: number): string | null {
  if (!Bun.which("wrk")) return null;
  const result = Bun.spawnSync(["wrk", "-t2", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", script, url], { stdout: "pipe", stderr: "pipe", timeout: (seconds + 30) * 1000 });
  return result.stdout.toString().split("\n").find((line) => line.startsWith("WRKRESULT")) ?? `WRKRESULT rps=NaN failed=${JSON.stringify(result.stderr.toString().slice(0, 80))}`;
}

/**
 * routeAnswers: the route answers 200 with a JSON body holding `field` (h10's range/txn routes may not be
 * merged: without them GET /kv?prefix= is a 400 for the missing key, POST /txn a 404).
 */
async function routeAnswers(url: string, field: string, init?: RequestInit): Promise<boolean> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) }).catch(() => null);
  if (response === null || !response.ok) return false;
  const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  return body !== null && field in body;
}

async function fillEtcd(url: string): Promise<void> {
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const value = b64("v".repeat(100));
  let next = 0;
  const writer = async () => {
    while (next < keys) {
      const key = keyName(next++);
      const response = await fetch(`${url}/v3/kv/put`, { method: "POST", body: `{"key":"${b64(key)}","value":"${value}"}`, signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`etcd fill: ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, writer));
}

interface Figures {
  range: string;
  txn: string;
  put: string;
}

async function qklzlFigures(binary: string, seconds: number, connections: number): Promise<Figures> {
  const cluster = benchCluster({ command: [binary] });
  try {
    const leader = cluster.node((await cluster.startFresh()).leaderId);
    const url = `http://${leader.httpAddr}`;
    await fillKeys(leader.httpAddr, { keys, valueSize: 100, clients: 16 });
    const hasRange = await routeAnswers(`${url}/kv?prefix=bench-key-&limit=1`, "kvs");
    const hasTxn = await routeAnswers(`${url}/txn`, "succeeded", { method: "POST", headers: { "content-type": "application/json" }, body: '{"compare":[],"success":[],"failure":[]}' });
    const pending = "skipped: the route is not in this build (h10's range/txn routes)";
    return {
      range: hasRange ? describe(wrk(join(wrkDir, "qklzl-range1000.lua"), url, seconds, connections)) : pending,
      txn: hasTxn ? describe(wrk(join(wrkDir, "qklzl-txn.lua"), url, seconds, connections)) : pending,
      put: describe(wrk(join(sharedBench, "qklzl-put.lua"), url, seconds, connections)),
    };
  } finally {
    await cluster.destroy();
  }
}

async function etcdFigures(seconds: number, connections: number): Promise<Figures | string> {
  const script = join(sharedBench, "etcd-cluster.sh");
  const missing = ["etcd", "etcdctl", "wrk"].filter((tool) => !Bun.which(tool));
  if (!existsSync(script) || missing.length > 0) return `skipped: missing ${missing.join(" ") || script} (apt-get install -y etcd-server etcd-client wrk)`;
  const started = Bun.spawnSync(["bash", script, "start"], { stdout: "ignore", stderr: "pipe", timeout: 120_000 });
  if (started.exitCode !== 0) return `skipped: etcd-cluster.sh start failed: ${started.stderr.toString().trim().split("\n").pop()}`;
  try {
    const leader = Bun.spawnSync(["bash", script, "leader"], { stdout: "pipe", timeout: 30_000 }).stdout.toString().trim();
    const url = leader.startsWith("http") ? leader : `http://${leader}`;
    await fillEtcd(url);
    return {
      range: describe(wrk(join(wrkDir, "etcd-range1000.lua"), url, seconds, connections)),
      txn: describe(wrk(join(wrkDir, "etcd-txn.lua"), url, seconds, connections)),
      put: describe(wrk(join(sharedBench, "etcd-put.lua"), url, seconds, connections)),
    };
  } finally {
    Bun.spawnSync(["bash", script, "stop"], { stdout: "ignore", stderr: "ignore", timeout: 60_000 });
  }
}

/** mvccRows adds the issue 12 rows (see the file comment). */
export async function mvccRows(row: Row, options: { binary: string; seconds: number; connections: number; loadNote: () => string }): Promise<void> {
  const { seconds, connections } = options;
  const load = options.loadNote();
  const q = await qklzlFigures(options.binary, seconds, connections);
  const e = await etcdFigures(seconds, connections);
  const etcd = (pick: (f: Figures) => string) => (typeof e === "string" ? e : pick(e));
  const note = `${keys} keys × 100 B, c=${connections}, ${seconds} s each, qklzl then etcd; ${load} at start`;
  row(`range of 1,000 keys (GET /kv?prefix=&limit=1000 vs /v3/kv/range)`, q.range, etcd((f) => f.range), note);
  row(`txn CAS (POST /txn vs /v3/kv/txn: version > 0 → put)`, q.txn, etcd((f) => f.txn), note);
  row(`puts with history on (default retention)`, q.put, etcd((f) => f.put), note);
}

/** restartRows runs scripts/bench_restore.ts (1M keys by default) and adds the memory and restart rows. */
export function restartRows(row: Row, loadNote: () => string): void {
  const load = loadNote();
  const result = Bun.spawnSync([process.execPath, join(here, "bench_restore.ts")], { stdout: "pipe", stderr: "inherit", env: process.env, timeout: 900_000 });
  const line = result.stdout.toString().split("\n").find((text) => text.startsWith("RESTORE")) ?? "";
  const keysFigure = field(line, "keys");
  const shape = `${keysFigure} keys × 100 B + ${field(line, "overwrites")} overwrites (history: ${field(line, "history_events")} events, ${field(line, "history_mb")} MB)`;
  row(`RSS, ${shape}, in process after a snapshot (settled)`, `${field(line, "node_rss_mb")} MB (restarted: ${field(line, "rss_mb")} MB)`, "n/a", `target ≤ 500 MB; arena ${field(line, "live_mb")} MB; ${load}`);
  row(
    `restart: restore the snapshot of ${keysFigure} keys (read + decode + build + hash check)`,
    `${field(line, "restore_ms_best")} ms wall, ${field(line, "restore_cpu_ms_best")} ms CPU (best of ${process.env.BENCH_ROUNDS ?? "3"})`,
    "n/a",
    `target < 2 s; image ${field(line, "image_mb")} MB, snapshot took ${field(line, "snapshot_ms")} ms; ${load}`,
  );
}
