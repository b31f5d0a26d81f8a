import { expect, test } from "bun:test";
import { Cluster, fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { checkHistory } from "./cas_checker.ts";
import { runCasWorkload, type Workload } from "./cas_workload.ts";

// Jepsen-style: a compare-and-set register workload (POST /kv with "if", linearizable reads on every node)
// while the leader is frozen (SIGSTOP), then killed (kill -9) and restarted; the recorded history must be
// linearizable (cas_checker.ts, a WGL search per key). Then the same workload with a planted bug (the compare
// served from a stale local read) must be caught by the checker. Partitions: cas_register_partition.test.ts.

const cluster = formedForThisFile(new Cluster({ name: "it-cas-register", extraArgs: fastFlags }), { timeoutMs: 90_000 });

async function progress(workload: Workload, count: number, what: string): Promise<void> {
  const target = workload.ops.length + count;
  await waitFor(() => workload.ops.length >= target, { deadlineMs: 20_000, what: `${count} more operations ${what}` });
}

function summary(workload: Workload): string {
  const count = (kind: string, status: string) => workload.ops.filter((op) => op.kind === kind && op.status === status).length;
  return `${workload.ops.length} ops: cas ok ${count("cas", "ok")}, cas fail ${count("cas", "fail")}, cas info ${count("cas", "info")}, writes ok ${count("write", "ok")} info ${count("write", "info")}, reads ${count("read", "ok")}`;
}

test("CAS register through if: linearizable under SIGSTOP and kill -9 of the leader", async () => {
  await cluster.explain(async () => {
    const workload = runCasWorkload(cluster, { keyPrefix: "reg", keys: 3, clients: 5, requestTimeoutMs: 1500, maxOps: 1100 });
    try {
      await progress(workload, 80, "before any fault");

      const paused = (await cluster.waitForLeader({ among: [1, 2, 3] })).leaderId;
      cluster.pause(paused);
      await cluster.waitForLeader({ among: [1, 2, 3].filter((id) => id !== paused), deadlineMs: 10_000 });
      await progress(workload, 80, `while node ${paused} is frozen`);
      cluster.resume(paused);
      await progress(workload, 60, `after node ${paused} resumed`);

      const killed = (await cluster.waitForLeader({ among: [1, 2, 3] })).leaderId;
      await cluster.kill9(killed);
      const survivors = cluster.running();
      await cluster.waitForLeader({ among: survivors, deadlineMs: 10_000 });
      await progress(workload, 80, `while node ${killed} is down`);
      await cluster.start(killed, { join: survivors[0]! });
      await cluster.waitHttp(killed);
      await progress(workload, 60, `after node ${killed} restarted`);
    } finally {
      await workload.stop();
    }
    const result = checkHistory(workload.ops);
    console.log(`cas register: ${summary(workload)}; ${result.keys} keys checked`);
    expect(workload.anomalies).toEqual([]);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    // Enough contention to mean something: successful and refused compares both, and reads.
    const casOk = workload.ops.filter((op) => op.kind === "cas" && op.status === "ok").length;
    const casFail = workload.ops.filter((op) => op.kind === "cas" && op.status === "fail").length;
    expect(casOk).toBeGreaterThanOrEqual(50);
    expect(casFail).toBeGreaterThanOrEqual(20);
  });
}, 120_000);

test("the checker catches a planted bug: the compare served from a stale local read", async () => {
  await cluster.explain(async () => {
    await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 15_000 });
    const workload = runCasWorkload(cluster, { keyPrefix: "buggy", keys: 1, clients: 6, requestTimeoutMs: 1500, maxOps: 300, staleCompare: true });
    await waitFor(() => workload.ops.length >= 300, { deadlineMs: 30_000, what: "300 operations of the buggy workload" });
    await workload.stop();
    const result = checkHistory(workload.ops);
    console.log(`planted bug: ${summary(workload)}; checker: ${result.problems[0] ?? "no violation found"}`);
    expect(result.inconclusive).toBe(false);
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toContain("no next one is legal");
  });
}, 60_000);
