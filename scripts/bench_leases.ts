// `bun run bench leases` (scripts/bench.ts) or `bun scripts/bench_leases.ts [seconds]`: lease grant and
// keepalive rates, 32 closed-loop clients on one connection to the leader, measured with the same client (the
// `etcd3` npm client, gRPC: LeaseGrant, and LeaseKeepAlive streams, one per client loop, one keepalive in flight
// each) against qklzl's etcd v3 endpoint and a 3-member etcd, one system after the other in one run. While
// qklzl's gRPC endpoint has no Lease service (it answers UNIMPLEMENTED), qklzl's figures are taken over its HTTP
// API (POST /lease/grant, /lease/keepalive, Bun's fetch) and the row says so; the same code measures gRPC as
// soon as the service is there. Both systems with default durability.
import { Etcd3 } from "etcd3";
import { type Endpoints, percentile, withEtcd, withQklzl, withTimeout } from "./bench_systems.ts";

const clients = 32;
const op_ms_max = 10_000;

export interface Rate {
  ops: number;
  errors: number;
  perSecond: number;
  p99ms: number;
}

interface LeaseFigures {
  via: string;
  grant: Rate;
  keepalive: Rate;
}

/** closedLoop runs `op` from `clients` loops for `seconds` and reports the rate and p99 of the successes. */
async function closedLoop(seconds: number, op: (client: number, i: number) => Promise<boolean>): Promise<Rate> {
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; performance.now() < end; i++) {
        const start = performance.now();
        const ok = await withTimeout(op(client, i), op_ms_max, "a lease call").catch(() => false);
        if (ok) latencies.push(performance.now() - start);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, errors, perSecond: latencies.length / seconds, p99ms: percentile(latencies, 0.99) };
}

/** KeepAliveStream: one LeaseKeepAlive stream, one keepalive in flight (its answer resolves it). */
class KeepAliveStream {
  private waiting: ((ok: boolean) => void) | null = null;

  private constructor(private readonly stream: Awaited<ReturnType<Etcd3["leaseClient"]["leaseKeepAlive"]>>) {
    stream.on("data", (answer: { TTL: string }) => this.settle(Number(answer.TTL) > 0));
    stream.on("error", () => this.settle(false));
  }

  static async open(client: Etcd3): Promise<KeepAliveStream> {
    return new KeepAliveStream(await client.leaseClient.leaseKeepAlive());
  }

  keepAlive(id: string): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.stream.write({ ID: id });
    });
  }

  end(): void {
    this.stream.end();
  }

  private settle(ok: boolean): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.(ok);
  }
}

/** viaGrpc: grant and keepalive rates through the etcd3 client; null when the endpoint has no Lease service. */
async function viaGrpc(endpoints: Endpoints, seconds: number): Promise<LeaseFigures | null> {
  const client = new Etcd3({ hosts: [endpoints.leaderGrpc], dialTimeout: 5000 });
  try {
    try {
      await withTimeout(client.leaseClient.leaseGrant({ TTL: 600 }), op_ms_max, "a first lease grant");
    } catch (error) {
      const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
      if (/unimplemented|not ?implemented/i.test(text)) return null;
      throw error;
    }
    const ids: string[][] = Array.from({ length: clients }, () => []);
    const grant = await closedLoop(seconds, async (c) => {
      const answer = await client.leaseClient.leaseGrant({ TTL: 600 });
      ids[c]!.push(String(answer.ID));
      return true;
    });
    const streams = await Promise.all(Array.from({ length: clients }, () => KeepAliveStream.open(client)));
    try {
      const keepalive = await closedLoop(seconds, (c, i) => streams[c]!.keepAlive(ids[c]![i % ids[c]!.length]!));
      return { via: "etcd3 client, gRPC", grant, keepalive };
    } finally {
      for (const s of streams) s.end();
    }
  } finally {
    client.close();
  }
}

async function post(url: string, body: unknown): Promise<Record<string, unknown> | null> {
  try {
    const response = await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    const json = (await response.json()) as Record<string, unknown>;
    return response.ok ? json : null;
  } catch {
    return null;
  }
}

/** viaQklzlHttp: the same figures over qklzl's own HTTP lease routes. */
async function viaQklzlHttp(endpoints: Endpoints, seconds: number): Promise<LeaseFigures> {
  const ids: number[][] = Array.from({ length: clients }, () => []);
  const grant = await closedLoop(seconds, async (c) => {
    const answer = await post(`${endpoints.leaderHttp}/lease/grant`, { ttl: 600 });
    if (answer !== null) ids[c]!.push(answer.id as number);
    return answer !== null;
  });
  const keepalive = await closedLoop(seconds, async (c, i) => (await post(`${endpoints.leaderHttp}/lease/keepalive`, { id: ids[c]![i % ids[c]!.length] })) !== null);
  return { via: "HTTP API: the gRPC Lease service is not wired yet", grant, keepalive };
}

function describe(r: Rate): string {
  return `${r.perSecond.toFixed(0)}/s p99 ${r.p99ms.toFixed(1)} ms (${r.ops} ok, ${r.errors} errors)`;
}

type Row = (figure: string, qklzl: string, etcd: string, note: string) => void;

/** leaseRows: grant and keepalive rows, qklzl and etcd measured in this run. */
export async function leaseRows(row: Row, options: { binary: string; seconds: number; loadNote: () => string }): Promise<void> {
  const loadBefore = options.loadNote();
  const failed = (error: unknown) => `failed: ${error instanceof Error ? error.message : String(error)}`;
  const q = await withQklzl(options.binary, async (endpoints) => (await viaGrpc(endpoints, options.seconds)) ?? (await viaQklzlHttp(endpoints, options.seconds))).catch(failed);
  const e = await withEtcd(async (endpoints) => (await viaGrpc(endpoints, options.seconds)) ?? "etcd answered UNIMPLEMENTED").catch(failed);
  for (const what of ["grant", "keepalive"] as const) {
    const cell = (r: LeaseFigures | string) => (typeof r === "string" ? r : `${describe(r[what])} [${r.via}]`);
    row(`lease ${what === "grant" ? "grant (TTL 600 s)" : "keepalive"}: ${clients} closed-loop clients, to the leader (etcd3: one connection)`, cell(q), cell(e), `${options.seconds} s each; ${loadBefore} at start, ${options.loadNote()} at end`);
  }
}

if (import.meta.main) {
  const seconds = Number(process.argv[2] ?? "5");
  const { join } = await import("node:path");
  const { loadavg } = await import("node:os");
  await leaseRows((figure, qklzl, etcd, note) => console.log(`| ${figure} | ${qklzl} | ${etcd} | ${note} |`), {
    binary: join(import.meta.dir, "..", "bin", "qklzl"),
    seconds,
    loadNote: () => `load ${loadavg()[0]!.toFixed(1)}`,
  });
}
