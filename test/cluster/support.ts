import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { StatusJson } from "../../src/node/api.ts";
import { check, CheckError, Cluster, fastFlags, describeReply, errorCode, nodeCommand, notYet, request, show, waitFor } from "../../scenarios/harness.ts";
import { start_marker, track } from "../../src/cli/launcher/index.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// support.ts: what the snapshot/membership end-to-end tests need on top of scenarios/harness.ts: bulk writes
// at a bounded concurrency, the data dir's footprint, CLI runs of the binary, the `qklzl join ADDR` form of
// starting a node, and reading one node's log since its last start.

/** env_scale lets a slow machine shrink the bulk write counts (QKLZL_E2E_SCALE=0.2); default 1. */
export const env_scale = Number(process.env.QKLZL_E2E_SCALE ?? "1") || 1;

export function scaled(count: number): number {
  return Math.max(100, Math.round(count * env_scale));
}

export interface WriteKeysOptions {
  count: number;
  /** key/value of write number i (values must be deterministic so reads can check them). */
  key(i: number): string;
  value(i: number): string;
  /** del: send deletes of key(i) instead of puts (value is then unused). */
  del?: boolean;
  concurrency?: number;
  deadlineMs?: number;
  /** onProgress is called every `progressEvery` acknowledged writes (for sampling the disk while writing). */
  onProgress?: (done: number) => void | Promise<void>;
  progressEvery?: number;
}

export interface WriteKeysResult {
  acked: number;
  retries: number;
  elapsedMs: number;
  perSecond: number;
  lastIndex: number;
}

/**
 * writeKeys puts keys 0..count-1 through the leader, `concurrency` requests in flight. A write with an unknown
 * outcome is retried (a put of the same value is idempotent); any other failure after retries throws.
 */
export async function writeKeys(cluster: Cluster, options: WriteKeysOptions): Promise<WriteKeysResult> {
  const started = performance.now();
  const deadline = started + (options.deadlineMs ?? 120_000);
  let target = (await cluster.waitForLeader({ deadlineMs: 15_000 })).leaderId;
  let next = 0;
  let acked = 0;
  let retries = 0;
  let lastIndex = 0;
  const progressEvery = options.progressEvery ?? 0;

  async function one(i: number): Promise<void> {
    const body = JSON.stringify(options.del === true ? { op: "delete", key: options.key(i) } : { op: "put", key: options.key(i), value: options.value(i) });
    for (let attempt = 0; ; attempt++) {
      if (performance.now() > deadline) throw new CheckError(`writeKeys: deadline passed after ${acked}/${options.count} writes`);
      const node = target;
      let status = 0;
      let json: Record<string, unknown> | null = null;
      let failure = "";
      try {
        const response = await fetch(`http://${cluster.node(node).httpAddr}/kv`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
          redirect: "manual",
          signal: AbortSignal.timeout(8000),
        });
        status = response.status;
        const text = await response.text();
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          failure = text.slice(0, 200);
        }
      } catch (error) {
        failure = error instanceof Error ? error.message : String(error);
      }
      if (status === 200 && json?.ok === true) {
        acked++;
        if (typeof json.index === "number") lastIndex = Math.max(lastIndex, json.index);
        return;
      }
      retries++;
      if (attempt >= 20) {
        throw new CheckError(`writeKeys: write ${i} to node ${node} kept failing: HTTP ${status} ${show(json ?? failure)}`);
      }
      // 307 / 503 / no answer: the leader moved or is being elected; find it again.
      if (status !== 0 && status < 500 && status !== 307) {
        throw new CheckError(`writeKeys: write ${i} refused by node ${node}: HTTP ${status} ${show(json ?? failure)}`);
      }
      await Bun.sleep(50);
      const hinted = typeof json?.leader_http_addr === "string" ? cluster.nodeByHttpAddr(json.leader_http_addr) : null;
      if (hinted !== null) target = hinted;
      else if (target === node) target = (await cluster.waitForLeader({ deadlineMs: 15_000 })).leaderId;
    }
  }

  let reported = 0;
  async function worker(): Promise<void> {
    while (next < options.count) {
      const i = next++;
      await one(i);
      if (progressEvery > 0 && options.onProgress && acked - reported >= progressEvery) {
        reported = acked;
        await options.onProgress(acked);
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  const elapsedMs = performance.now() - started;
  return { acked, retries, elapsedMs, perSecond: Math.round((acked / elapsedMs) * 1000), lastIndex };
}

/**
 * checkSample reads key i for every i in `indexes` from node `id` and returns the mismatches (empty = all
 * intact). kv.value(i) null means the key must be absent (404 key_not_found).
 */
export async function checkSample(
  cluster: Cluster,
  id: number,
  indexes: number[],
  kv: { key(i: number): string; value(i: number): string | null },
  consistency: "stale" | "linearizable" = "stale",
): Promise<string[]> {
  const bad: string[] = [];
  let next = 0;
  async function reader(): Promise<void> {
    while (next < indexes.length) {
      const i = indexes[next++]!;
      const reply = await cluster.get(id, kv.key(i), { consistency });
      const expected = kv.value(i);
      if (expected === null) {
        if (reply.status !== 404 || errorCode(reply) !== "key_not_found") bad.push(`${kv.key(i)}: expected 404 key_not_found, got ${describeReply(reply)}`);
      } else if (reply.status !== 200 || reply.json?.value !== expected) {
        bad.push(`${kv.key(i)}: ${reply.status === 200 ? `value of ${String(reply.json?.value).length} chars differs` : describeReply(reply)}`);
      }
    }
  }
  await Promise.all(Array.from({ length: 8 }, reader));
  return bad;
}

/** sampleIndexes: `n` distinct indexes in [0, count) spread over the range, always with the first and last. */
export function sampleIndexes(count: number, n: number): number[] {
  const out = new Set<number>([0, count - 1]);
  const step = Math.max(1, Math.floor(count / n));
  // One index per stretch of `step`, at a pseudo-random offset inside it (so residues mod 10 all occur).
  for (let k = 0; k * step < count && out.size < n; k++) out.add(Math.min(count - 1, k * step + ((k * 7919 + 17) % step)));
  return [...out];
}

export interface DirUsage {
  walBytes: number;
  walFiles: string[];
  snapBytes: number;
  snapFiles: string[];
}

/** dirUsage measures a node's data dir: the wal/ segments and the snap/ files (storage layout, src/storage/index.ts). */
export function dirUsage(dataDir: string): DirUsage {
  const measure = (dir: string) => {
    if (!existsSync(dir)) return { bytes: 0, files: [] as string[] };
    let bytes = 0;
    const files: string[] = [];
    for (const name of readdirSync(dir).sort()) {
      try {
        const stat = statSync(path.join(dir, name));
        if (!stat.isFile()) continue;
        bytes += stat.size;
        files.push(name);
      } catch {
        // Deleted between readdir and stat (compaction running): not there any more.
      }
    }
    return { bytes, files };
  };
  const wal = measure(path.join(dataDir, "wal"));
  const snap = measure(path.join(dataDir, "snap"));
  return { walBytes: wal.bytes, walFiles: wal.files, snapBytes: snap.bytes, snapFiles: snap.files };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** runCli runs the binary with `args` (a client command) and kills it by PID if it outlives `timeoutMs`. */
export async function runCli(args: string[], timeoutMs = 20_000): Promise<CliResult> {
  const command = await nodeCommand();
  const proc = Bun.spawn([...command, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, CI: "true", NO_COLOR: "1" } });
  track(proc);
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

export function describeCli(args: string[], result: CliResult): string {
  return `\`qklzl ${args.join(" ")}\` exited ${result.code}; stdout: ${show(result.stdout.trim())}; stderr: ${show(result.stderr.trim())}`;
}

/**
 * startWithJoinCommand starts node `id` with the `qklzl join ADDR --id N ...` form (the harness's start() uses
 * the Go-style `-join` flag), through the launcher like every other start: output appended to the node's log,
 * the process tracked.
 */
export async function startWithJoinCommand(cluster: Cluster, id: number, via: number): Promise<void> {
  const node = cluster.node(id);
  await cluster.spawn(id, [
    "join",
    cluster.node(via).httpAddr,
    "--id",
    String(id),
    "--data-dir",
    node.dataDir,
    "--raft-addr",
    node.raftAddr,
    "--http-addr",
    node.httpAddr,
    ...cluster.extraArgs,
  ]);
}

/** logSinceStart: node `id`'s log text since its last start (the harness writes a marker line per start). */
export function logSinceStart(cluster: Cluster, id: number): string {
  let text: string;
  try {
    text = readFileSync(cluster.node(id).logPath, "utf8");
  } catch {
    return "";
  }
  const at = text.lastIndexOf(start_marker);
  return at < 0 ? text : text.slice(at);
}

/**
 * logFirstIndex: the first index still in node `id`'s log: /status first_index when the node reports it, else the
 * last "snapshot at index … log now [first, last]" line of its log; 0 when neither says. Compaction drops whole
 * segments, so this, not snapshot_index, says whether a lagging follower can still be served from the log.
 */
export function logFirstIndex(cluster: Cluster, id: number, status: StatusJson | null = cluster.node(id).lastStatus): number {
  if (status !== null && typeof status.first_index === "number") return status.first_index;
  const matches = [...logSinceStart(cluster, id).matchAll(/log now \[(\d+), (\d+)\]/g)];
  const last = matches.at(-1);
  return last === undefined ? 0 : Number(last[1]);
}

/** waitCompactedPast waits until the leader's log no longer holds `index` (only a snapshot can serve it). */
export async function waitCompactedPast(cluster: Cluster, leaderId: number, index: number, deadlineMs = 20_000): Promise<StatusJson> {
  return waitFor(
    async () => {
      const s = await cluster.status(leaderId);
      const first = logFirstIndex(cluster, leaderId, s);
      return s !== null && first > index + 1 ? s : notYet({ snapshot_index: s?.snapshot_index, first_index: first });
    },
    { deadlineMs, what: `leader ${leaderId}'s log to be compacted past index ${index}` },
  );
}

/**
 * infoLogging: node `id` prints info lines (its "node N up" line is in its log). A binary compiled with
 * NODE_ENV=test (e.g. built from inside `bun test`) runs consola at warn level and prints none.
 */
export function infoLogging(cluster: Cluster, id: number): boolean {
  return / up: raft /.test(logSinceStart(cluster, id));
}

/** snapshotFileIndexes: the indexes of the snapshot files in node `id`'s snap/ dir ("<index>-<term>.snap"). */
export function snapshotFileIndexes(cluster: Cluster, id: number): number[] {
  return dirUsage(cluster.node(id).dataDir)
    .snapFiles.map((name) => /^(\d+)-\d+\.snap$/.exec(name))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]));
}

/** waitApplied waits until node `id` applied at least `index` and returns its status. */
export async function waitApplied(cluster: Cluster, id: number, index: number, deadlineMs = 30_000): Promise<StatusJson> {
  return waitFor(
    async () => {
      check(cluster.isRunning(id), `node ${id} exited (${cluster.describeExit(id)})`);
      const s = await cluster.status(id, 1500);
      return s !== null && s.applied_index >= index ? s : notYet(s === null ? "no answer" : { applied: s.applied_index, snapshot: s.snapshot_index });
    },
    { deadlineMs, what: `node ${id} to apply index ${index}` },
  );
}

/**
 * waitSameHash waits until node `id` and the leader report the same kv_hash_index and kv_hash (writes stopped),
 * and returns both statuses.
 */
export async function waitSameHash(cluster: Cluster, id: number, leaderId: number, deadlineMs = 30_000): Promise<[StatusJson, StatusJson]> {
  return waitFor(
    async () => {
      const [a, b] = await Promise.all([cluster.status(id), cluster.status(leaderId)]);
      if (a === null || b === null) return notYet({ node: a?.applied_index, leader: b?.applied_index });
      const same = a.kv_hash_index === b.kv_hash_index && a.kv_hash === b.kv_hash && a.applied_index === b.commit_index;
      return same ? ([a, b] as [StatusJson, StatusJson]) : notYet({ node: [a.kv_hash_index, a.kv_hash], leader: [b.kv_hash_index, b.kv_hash] });
    },
    { deadlineMs, what: `node ${id} to reach leader ${leaderId}'s kv_hash at the same index` },
  );
}

/** snapshotsTaken reads qklzl_snapshots_taken_total from node `id`'s GET /metrics. */
export async function snapshotsTaken(cluster: Cluster, id: number): Promise<number> {
  const reply = await request(cluster.node(id).httpAddr, "/metrics");
  const match = /^qklzl_snapshots_taken_total (\d+)$/m.exec(reply.text);
  check(reply.status === 200 && match !== null, `node ${id} /metrics has qklzl_snapshots_taken_total: ${describeReply(reply)}`);
  return Number(match[1]);
}

/** postJson posts to a membership route and returns the reply (no redirects followed). */
export function post(cluster: Cluster, id: number, route: string, body: unknown, timeoutMs = 10_000) {
  return request(cluster.node(id).httpAddr, route, { json: body, timeoutMs });
}

export { errorCode };

/** keepFiles: QKLZL_E2E_KEEP=1 keeps the cluster's temp dir (data dirs, node logs) for a post-mortem. */
export function keepFiles(): boolean {
  return process.env.QKLZL_E2E_KEEP === "1";
}

/**
 * useSnapshotCluster: a fresh 3-node cluster with the given snapshot spacing, trailing window and segment size, formed
 * before the file's tests and destroyed after them (files kept with QKLZL_E2E_KEEP=1).
 */
export function useSnapshotCluster(
  name: string,
  sizes: { snapshot_entries: number; trailing_entries: number; segment_bytes: number },
): Cluster {
  const cluster = new Cluster({
    name,
    extraArgs: [...fastFlags, "--snapshot-entries", String(sizes.snapshot_entries), "--trailing-entries", String(sizes.trailing_entries), "--segment-bytes", String(sizes.segment_bytes)],
  });
  return formedForThisFile(cluster, { timeoutMs: 60_000, keepFiles: keepFiles() });
}
