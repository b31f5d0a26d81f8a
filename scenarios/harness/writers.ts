import type { Cluster } from "./cluster.ts";
import { errorCode, request } from "./http.ts";

// writers.ts: closed-loop clients that write unique keys while faults are injected, and the check that no
// acknowledged write was lost. A write counts as acknowledged only on 200 {"ok":true}; a timeout or a dropped
// connection leaves its outcome unknown (it may or may not be applied), so such keys are not checked.

export interface WriteLog {
  /** acked: key -> value of every write answered 200 {"ok":true}. */
  acked: Map<string, string>;
  /** unknown: keys whose write got no definite answer (timeout, connection lost, 5xx). */
  unknown: Set<string>;
  /** refused: writes definitely not applied (307 from a follower, 4xx). */
  refused: number;
  /** answers: count per answer kind ("200", "307", "503 no_leader", "net"), for reports. */
  answers: Map<string, number>;
}

export interface WritersOptions {
  writers?: number;
  prefix?: string;
  requestTimeoutMs?: number;
}

export interface Writers {
  readonly log: WriteLog;
  /** stop asks every writer to finish its request in flight and resolves with the log. */
  stop(): Promise<WriteLog>;
}

function count(log: WriteLog, kind: string): void {
  log.answers.set(kind, (log.answers.get(kind) ?? 0) + 1);
}

/** startWriters runs `writers` loops writing `${prefix}w${n}-${seq}` through whichever node leads. */
export function startWriters(cluster: Cluster, options: WritersOptions = {}): Writers {
  const log: WriteLog = { acked: new Map(), unknown: new Set(), refused: 0, answers: new Map() };
  const prefix = options.prefix ?? "";
  let stopping = false;
  let target = cluster.ids[0]!;

  async function loop(writer: number): Promise<void> {
    for (let seq = 0; !stopping && !cluster.isDestroyed; seq++) {
      const key = `${prefix}w${writer}-${seq}`;
      const value = `v${writer}-${seq}-${Date.now()}`;
      const node = target;
      const reply = await request(cluster.node(node).httpAddr, "/kv", {
        json: { op: "put", key, value },
        timeoutMs: options.requestTimeoutMs ?? 7000,
      });
      const code = errorCode(reply);
      count(log, reply.status === 0 ? "net" : `${reply.status}${code === null ? "" : ` ${code}`}`);
      if (reply.status === 200 && reply.json?.ok === true) {
        log.acked.set(key, value);
        continue;
      }
      if (reply.status === 307 || (reply.status >= 400 && reply.status < 500)) log.refused += 1;
      else log.unknown.add(key);
      const leaderAddr = reply.json?.leader_http_addr;
      const hinted = typeof leaderAddr === "string" ? cluster.nodeByHttpAddr(leaderAddr) : null;
      if (hinted !== null && hinted !== node) target = hinted;
      else if (target === node) target = cluster.ids[(cluster.ids.indexOf(node) + 1) % cluster.ids.length]!;
      // Back off a little on errors so a leaderless cluster is not hammered while it elects.
      await Bun.sleep(20);
    }
  }

  const loops = Array.from({ length: options.writers ?? 3 }, (_, writer) => loop(writer));
  return {
    log,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return log;
    },
  };
}

export interface LostWrites {
  checked: number;
  /** lost: acknowledged keys read back missing or with another value. */
  lost: { key: string; expected: string; got: string }[];
}

/** findLostWrites reads every acknowledged key from node `via` (linearizable; any node may serve it) and lists the ones not as acked. */
export async function findLostWrites(cluster: Cluster, log: WriteLog, via: number): Promise<LostWrites> {
  const entries = [...log.acked.entries()];
  const lost: LostWrites["lost"] = [];
  let next = 0;
  async function reader(): Promise<void> {
    while (next < entries.length) {
      const [key, expected] = entries[next++]!;
      let got = "";
      // A 503/504 or no answer (an election, a designated leader taking over) is retried for a while; a 404 or
      // a value is an answer.
      const deadline = performance.now() + 10_000;
      for (;;) {
        const reply = await cluster.get(via, key);
        if (reply.status === 200) {
          got = String(reply.json?.value);
          break;
        }
        got = reply.status === 404 ? "404 key_not_found" : `HTTP ${reply.status} ${errorCode(reply) ?? reply.networkError ?? ""}`;
        if (reply.status === 404 || performance.now() >= deadline) break;
        await Bun.sleep(50);
      }
      if (got !== expected) lost.push({ key, expected, got });
    }
  }
  await Promise.all(Array.from({ length: 8 }, reader));
  return { checked: entries.length, lost };
}

/** describeAnswers renders the answer counts in one line ("200: 812, 307 not_leader: 3, net: 2"). */
export function describeAnswers(log: WriteLog): string {
  return [...log.answers.entries()].map(([kind, n]) => `${kind}: ${n}`).join(", ");
}
