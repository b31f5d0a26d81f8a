// `bun run bench watch` (scripts/bench.ts) or `bun scripts/bench_watch.ts [seconds]`: watch fan-out, measured
// with the same client (the `etcd3` npm client, gRPC) against qklzl's etcd v3 endpoint and a 3-member etcd,
// one system after the other in one run. One writer puts (closed loop, one put in flight) while N watchers on
// one member (the leader, one client connection) receive: all N on the hot prefix (every put reaches every
// watcher), or each on its own key (every put reaches one). Figures: events delivered per second (from the
// first put to the last delivery) and the delivery delay (put sent → event received, same process) p50/p99.
// Bounded: watch creation 60 s, writing `seconds`, draining 15 s; what was not delivered by then is counted.
import { Etcd3, type Watcher } from "etcd3";
import { type Endpoints, percentile, withEtcd, withQklzl, withTimeout } from "./bench_systems.ts";

export interface FanOutCase {
  /** watchers: how many watches; mode: all on one hot prefix, or each on its own key. */
  watchers: number;
  mode: "prefix" | "own";
}

export interface FanOutResult {
  puts: number;
  putsPerSecond: number;
  expected: number;
  delivered: number;
  eventsPerSecond: number;
  p50ms: number;
  p99ms: number;
  createMs: number;
}

export const fan_out_cases: FanOutCase[] = [
  // The writer alone: the put rate that the other cases' rates compare with (no watcher to deliver to).
  { watchers: 0, mode: "own" },
  { watchers: 100, mode: "prefix" },
  { watchers: 1000, mode: "prefix" },
  { watchers: 1000, mode: "own" },
];

const create_ms_max = 60_000;
const drain_ms_max = 15_000;
/** warm_up_puts: puts before the measured ones, to a key no watcher sees. */
const warm_up_puts = 50;
/** hot_keys: the writer cycles over this many keys of the hot prefix. */
const hot_keys = 100;

/** fanOut runs one case against `endpoints` for `seconds` of writing. */
export async function fanOut(endpoints: Endpoints, c: FanOutCase, seconds: number): Promise<FanOutResult> {
  const run = `fan${Date.now().toString(36)}/`;
  const watchClient = new Etcd3({ hosts: [endpoints.leaderGrpc], dialTimeout: 5000 });
  const writeClient = new Etcd3({ hosts: [endpoints.leaderGrpc], dialTimeout: 5000 });
  const delays: number[] = [];
  let delivered = 0;
  let lastDeliveryAt = 0;
  const onPut = (kv: { value: Buffer }) => {
    const now = performance.now();
    delays.push(now - Number(kv.value.toString()));
    delivered++;
    lastDeliveryAt = now;
  };
  try {
    const createdAt = performance.now();
    const watchers: Watcher[] = await withTimeout(
      Promise.all(
        Array.from({ length: c.watchers }, async (_, i) => {
          const builder = c.mode === "prefix" ? watchClient.watch().prefix(run) : watchClient.watch().key(`${run}k${i}`);
          const watcher = await builder.create();
          watcher.on("put", onPut);
          return watcher;
        }),
      ),
      create_ms_max,
      `creating ${c.watchers} watches`,
    );
    const createMs = performance.now() - createdAt;
    // Warm-up, outside the figures: the first puts on a fresh cluster and a fresh client connection are slow.
    for (let i = 0; i < warm_up_puts; i++) await withTimeout(writeClient.put(`${run.slice(0, -1)}-warm`).value("0").exec(), 10_000, "a warm-up put");
    const startedAt = performance.now();
    const end = startedAt + seconds * 1000;
    let puts = 0;
    while (performance.now() < end) {
      const key = c.mode === "prefix" ? `${run}k${puts % hot_keys}` : `${run}k${puts % Math.max(1, c.watchers)}`;
      await withTimeout(writeClient.put(key).value(String(performance.now())).exec(), 10_000, "a put");
      puts++;
    }
    const putsPerSecond = (puts * 1000) / (performance.now() - startedAt);
    const expected = c.mode === "prefix" ? puts * c.watchers : c.watchers === 0 ? 0 : puts;
    const drainEnd = performance.now() + drain_ms_max;
    while (delivered < expected && performance.now() < drainEnd) await Bun.sleep(20);
    delays.sort((a, b) => a - b);
    const span = Math.max(1, (lastDeliveryAt || performance.now()) - startedAt);
    void watchers;
    return { puts, putsPerSecond, expected, delivered, eventsPerSecond: (delivered / span) * 1000, p50ms: percentile(delays, 0.5), p99ms: percentile(delays, 0.99), createMs };
  } finally {
    watchClient.close();
    writeClient.close();
  }
}

/** describeFanOut: one table cell. */
export function describeFanOut(r: FanOutResult | string): string {
  if (typeof r === "string") return r;
  if (r.expected === 0) return `${r.putsPerSecond.toFixed(0)} puts/s (${r.puts} puts, no watcher)`;
  const lost = r.expected - r.delivered;
  return `${r.eventsPerSecond.toFixed(0)} events/s, delay p50 ${r.p50ms.toFixed(1)} ms p99 ${r.p99ms.toFixed(1)} ms (${r.puts} puts at ${r.putsPerSecond.toFixed(0)}/s, ${r.delivered}/${r.expected} delivered${lost > 0 ? `, ${lost} not within ${drain_ms_max / 1000} s` : ""}; watches created in ${(r.createMs / 1000).toFixed(1)} s)`;
}

type Row = (figure: string, qklzl: string, etcd: string, note: string) => void;

/** watchRows: one row per fan-out case, qklzl and etcd measured in this run. */
export async function watchRows(row: Row, options: { binary: string; seconds: number; loadNote: () => string }): Promise<void> {
  const measure = (endpoints: Endpoints) =>
    (async () => {
      const out: Array<FanOutResult | string> = [];
      for (const c of fan_out_cases) {
        try {
          out.push(await fanOut(endpoints, c, options.seconds));
        } catch (error) {
          out.push(`failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return out;
    })();
  const loadBefore = options.loadNote();
  const q = await withQklzl(options.binary, measure);
  const e = await withEtcd(measure);
  fan_out_cases.forEach((c, i) => {
    const cell = (r: Array<FanOutResult | string> | string) => describeFanOut(typeof r === "string" ? r : r[i]!);
    const what =
      c.watchers === 0 ? "no watcher (the put rate alone)" : c.mode === "prefix" ? `${c.watchers} watchers on one hot prefix` : `${c.watchers} watchers, each on its own key`;
    row(`watch fan-out: 1 writer, ${what}, one member (etcd3 client, gRPC)`, cell(q), cell(e), `${options.seconds} s of puts per case; ${loadBefore} at start, ${options.loadNote()} at end`);
  });
}

if (import.meta.main) {
  const seconds = Number(process.argv[2] ?? "5");
  const { join } = await import("node:path");
  const { loadavg } = await import("node:os");
  await watchRows((figure, qklzl, etcd, note) => console.log(`| ${figure} | ${qklzl} | ${etcd} | ${note} |`), {
    binary: join(import.meta.dir, "..", "bin", "qklzl"),
    seconds,
    loadNote: () => `load ${loadavg()[0]!.toFixed(1)}`,
  });
}
