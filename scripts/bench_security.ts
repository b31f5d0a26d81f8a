// The security rows of `npm run bench` (step "security", issue 15's "Done when": the cost of TLS and auth on
// puts): a fresh 3-node qklzl cluster of bin/qklzl, four ways, one after the other in this run, each measured with
// wrk at 64 connections against the leader (scripts/wrk/qklzl-put.lua: random keys over 10,000, 100-byte values):
// 1. plain; 2. TLS on the client port only (--cert-file/--key-file/--trusted-ca-file from src/cli/tls_pki.ts,
// wrk over https; the peer port stays plain, so the row is the client port's cost); 3. auth on (root plus a
// "bench" user whose role may readwrite the bench-key- prefix, `auth enable`, one POST /auth/authenticate, wrk
// sends `Authorization: Bearer TOKEN`: a token lasts 5 minutes, longer than one bounded run); 4. TLS + auth.
// Each row gives puts/s, p50, p99 and the ratio to plain. A row whose wrk saw any answer of 400 or above, or
// whose leader changed during the load (wrk does not count a 307 as an error), says so instead of a ratio: a
// 401 flood must not look fast. Missing wrk or openssl gives "skipped" rows, not figures.
// `bun scripts/bench_security.ts` prints the rows without writing BENCHMARKS.md (BENCH_BINARY: another build).
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { benchCluster } from "../src/cli/bench/cluster.ts";
import { clusterTls, opensslPath, type ClusterTls } from "../src/cli/tls_pki.ts";

export type Row = (figure: string, qklzl: string, etcd: string, note: string) => void;

const here = import.meta.dir;
const put_script = join(here, "wrk", "qklzl-put.lua");
const connections = 64;
const bench_password = "bench-secret";
const call_ms_max = 10_000;

interface Mode {
  name: string;
  tls: boolean;
  auth: boolean;
}

const modes: Mode[] = [
  { name: "plain", tls: false, auth: false },
  { name: "TLS (client port)", tls: true, auth: false },
  { name: "auth (Bearer token)", tls: false, auth: true },
  { name: "TLS + auth", tls: true, auth: true },
];

/** WrkResult: the WRKRESULT fields, or why there are none. */
interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  sockerr: number;
  timeouts: number;
}

type Outcome = { result: WrkResult; leaderChanged: boolean } | { failed: string };

function field(line: string, name: string): number {
  return Number(new RegExp(`\\b${name}=(\\S+)`).exec(line)?.[1] ?? "NaN");
}

function runWrk(url: string, seconds: number, token: string | null): WrkResult | string {
  const args = ["wrk", "-t2", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", put_script, url];
  const env = { ...process.env, BENCH_TOKEN: token ?? "" };
  const run = Bun.spawnSync(args, { env, stdout: "pipe", stderr: "pipe", timeout: (seconds + 30) * 1000 });
  const line = run.stdout.toString().split("\n").find((l) => l.startsWith("WRKRESULT"));
  if (line === undefined) return `wrk gave no result (exit ${run.exitCode}): ${run.stderr.toString().trim().slice(0, 200)}`;
  return {
    rps: field(line, "rps"), p50: field(line, "p50_ms"), p99: field(line, "p99_ms"), requests: field(line, "requests"),
    non2xx: field(line, "non2xx"), sockerr: field(line, "sockerr"), timeouts: field(line, "timeouts"),
  };
}

/** call: one JSON POST, checked (the set-up of auth must not fail silently, or mode 3 would measure 401s). */
async function call(base: string, tls: ClusterTls | null, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
    signal: AbortSignal.timeout(call_ms_max),
    ...(tls === null ? {} : { tls: { ca: tls.http.tls.ca } }),
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

/** enableAuth: root, a "bench" user allowed the bench keys (not root, whose checks are the cheapest), auth on; its token. */
async function enableAuth(base: string, tls: ClusterTls | null): Promise<string> {
  await call(base, tls, "/auth/user/add", { name: "root", password: bench_password });
  await call(base, tls, "/auth/role/add", { name: "root" }).catch(() => undefined); // may exist already
  await call(base, tls, "/auth/user/grant-role", { name: "root", role: "root" });
  await call(base, tls, "/auth/role/add", { name: "bench" });
  await call(base, tls, "/auth/role/grant-permission", { name: "bench", type: "readwrite", key: "bench-key-", prefix: true });
  await call(base, tls, "/auth/user/add", { name: "bench", password: bench_password });
  await call(base, tls, "/auth/user/grant-role", { name: "bench", role: "bench" });
  await call(base, tls, "/auth/enable", {});
  const answer = await call(base, tls, "/auth/authenticate", { name: "bench", password: bench_password });
  if (typeof answer.token !== "string") throw new Error(`POST /auth/authenticate gave no token: ${JSON.stringify(answer)}`);
  // The token works before the load starts (else every put of the load would be a 401).
  await call(base, tls, "/kv", { op: "put", key: "bench-key-probe", value: "x" }).then(
    () => { throw new Error("a put without a token was accepted with auth on"); },
    (error: Error) => { if (!/401/.test(error.message)) throw error; },
  );
  return answer.token;
}

/** measure: a fresh cluster in `mode`, its set-up, one wrk load against the leader, torn down. */
async function measure(binary: string, mode: Mode, seconds: number): Promise<Outcome> {
  let tls: ClusterTls | null = null;
  // TLS on the client port only: the node's own certificate, and the CA so that members' HTTP calls (join,
  // forwarding) verify each other over https. No peer flags, no --client-cert-auth (wrk presents no certificate).
  const cluster = benchCluster({
    command: [binary],
    nodeArgs: (id) => (tls === null ? [] : ["--cert-file", join(tls.pki.dir, `node${id}.crt`), "--key-file", join(tls.pki.dir, `node${id}.key`), "--trusted-ca-file", tls.pki.ca.cert]),
  });
  try {
    if (mode.tls) {
      tls = clusterTls(join(cluster.root, "tls"), cluster.ids);
      cluster.useHttp(tls.http);
    }
    const view = await cluster.startFresh();
    const base = `${mode.tls ? "https" : "http"}://${cluster.node(view.leaderId).httpAddr}`;
    const token = mode.auth ? await enableAuth(base, tls) : null;
    const result = runWrk(base, seconds, token);
    if (typeof result === "string") return { failed: result };
    const after = await cluster.status(view.leaderId);
    return { result, leaderChanged: after === null || !after.is_leader || after.term !== view.term };
  } catch (error) {
    return { failed: error instanceof Error ? error.message : String(error) };
  } finally {
    await cluster.destroy();
  }
}

function describe(r: WrkResult): string {
  return `${r.rps.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`;
}

export async function securityRows(row: Row, options: { binary: string; seconds: number; loadNote: () => string }): Promise<void> {
  const figure = (mode: Mode) => `puts c=64 (wrk), ${mode.name}`;
  const missing = [Bun.which("wrk") === null ? "wrk" : "", opensslPath() === null ? "openssl (TLS certificates)" : ""].filter((m) => m !== "");
  if (missing.length > 0 || !existsSync(options.binary)) {
    const why = missing.length > 0 ? `missing: ${missing.join(", ")} (apt-get install -y wrk openssl)` : `no ${options.binary} (bun run build)`;
    for (const mode of modes) row(figure(mode), "skipped", "n/a", why);
    return;
  }
  const load = options.loadNote();
  const outcomes: Outcome[] = [];
  for (const mode of modes) {
    process.stderr.write(`bench: security: ${mode.name}, ${options.seconds} s\n`);
    outcomes.push(await measure(options.binary, mode, options.seconds));
  }
  const plain = outcomes[0]!;
  const plainRps = "result" in plain && plain.result.non2xx === 0 && !plain.leaderChanged ? plain.result.rps : Number.NaN;
  const note = `leader's HTTP port, 64 connections, 2 wrk threads, 10,000 keys × 100 B, ${options.seconds} s each, a fresh cluster per mode, one after the other; ${load} at start, ${options.loadNote()} at end`;
  for (const [i, mode] of modes.entries()) {
    const outcome = outcomes[i]!;
    if ("failed" in outcome) {
      row(figure(mode), "failed", "n/a", `${outcome.failed}; ${note}`);
      continue;
    }
    const r = outcome.result;
    const errors = `non2xx ${r.non2xx}, socket errors ${r.sockerr}, timeouts ${r.timeouts} of ${r.requests}`;
    if (r.non2xx > 0 || outcome.leaderChanged) {
      const why = r.non2xx > 0 ? `NOT A FIGURE: ${r.non2xx} answers of 400 or above` : "NOT A FIGURE: the leader changed during the load (307s)";
      row(figure(mode), `${why} (${describe(r)})`, "n/a", `${errors}; ${note}`);
      continue;
    }
    const ratio = i === 0 ? "the reference" : Number.isNaN(plainRps) ? "no plain figure" : `${(r.rps / plainRps).toFixed(2)}× plain`;
    row(figure(mode), describe(r), "n/a", `${ratio}; ${errors}; ${note}`);
  }
}

if (import.meta.main) {
  const binary = process.env.BENCH_BINARY ?? join(here, "..", "bin", "qklzl");
  const loadNote = () => `load ${loadavg()[0]!.toFixed(1)}`;
  await securityRows((figure, qklzl, etcd, note) => console.log(`| ${figure} | ${qklzl} | ${etcd} | ${note} |`), { binary, seconds: Number(process.env.BENCH_DURATION ?? "10"), loadNote });
}
