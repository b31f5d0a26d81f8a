import { waitFor } from "../launcher/index.ts";
import { benchCluster } from "./cluster.ts";

export interface FailoverResult {
  /** samplesMs: time from kill -9 of the leader to the first acknowledged write on the new leader. */
  samplesMs: number[];
  medianMs: number;
}

/**
 * measureFailover starts a 3-node cluster of this binary, then `rounds` times: kill -9 the leader, write
 * continuously to the survivors until one acknowledges, record the time, restart the killed node (rejoining
 * with its data) and wait until it is a voter again.
 */
export async function measureFailover(
  rounds: number,
  options: { command?: string[]; onRound?: (round: number, ms: number) => void } = {},
): Promise<FailoverResult> {
  const cluster = benchCluster({ command: options.command });
  const samplesMs: number[] = [];
  try {
    await cluster.startFresh();
    for (let round = 1; round <= rounds; round++) {
      const leader = cluster.node((await cluster.waitForLeader({ deadlineMs: 15_000 })).leaderId);
      const survivors = [...cluster.nodes.values()].filter((node) => node.id !== leader.id);
      const killedAt = performance.now();
      await cluster.kill9(leader.id);
      let acknowledged = false;
      while (!acknowledged) {
        if (performance.now() - killedAt > 30_000) throw new Error("no write acknowledged within 30 s of the leader's kill");
        for (const node of survivors) {
          if (await tryWrite(node.httpAddr, round)) {
            acknowledged = true;
            break;
          }
        }
        if (!acknowledged) await Bun.sleep(10);
      }
      const elapsed = performance.now() - killedAt;
      samplesMs.push(elapsed);
      options.onRound?.(round, elapsed);
      const restarted = await cluster.start(leader.id, { join: survivors[0]!.id });
      await waitFor(() => fetchOk(`http://${restarted.httpAddr}/readyz`), { deadlineMs: 30_000, what: `node ${leader.id} to rejoin` });
    }
  } finally {
    await cluster.destroy();
  }
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { samplesMs, medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0 };
}

async function tryWrite(addr: string, round: number): Promise<boolean> {
  try {
    const response = await fetch(`http://${addr}/kv`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ op: "put", key: "failover", value: String(round) }),
      redirect: "manual",
      signal: AbortSignal.timeout(500),
    });
    return response.status === 200;
  } catch {
    return false;
  }
}

async function fetchOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}
