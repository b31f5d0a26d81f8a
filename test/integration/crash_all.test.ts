import { expect, test } from "bun:test";
import { check, Cluster, describeAnswers, fastFlags, findLostWrites, startWriters, waitFor, type WriteLog } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// kill -9 of every node at once while clients write: after the documented restart (node 1 -bootstrap, 2 and 3
// -join node 1) every write that was acknowledged reads back with its value. Two rounds, so the second crash
// hits a log that already went through one recovery.

const cluster = new Cluster({ name: "it-crash", extraArgs: fastFlags });
const timeout = 90_000;

formedForThisFile(cluster, { timeoutMs: timeout });

async function writeThenCrash(prefix: string): Promise<WriteLog> {
  const writers = startWriters(cluster, { writers: 4, prefix });
  try {
    await waitFor(() => writers.log.acked.size >= 150, { deadlineMs: 20_000, what: "150 acknowledged writes" });
  } finally {
    // Kill while the writers are still mid-request, then let them notice.
    await Promise.all(cluster.running().map((id) => cluster.kill9(id)));
    await writers.stop();
  }
  return writers.log;
}

async function restartAsDocumented(): Promise<number> {
  await cluster.start(1, { bootstrap: true });
  await cluster.waitHttp(1);
  await cluster.start(2, { join: 1 });
  await cluster.start(3, { join: 1 });
  const view = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 20_000 });
  return view.leaderId;
}

test("kill -9 of all nodes mid-write loses no acknowledged write (two rounds)", async () => {
  await cluster.explain(async () => {
    const logs: WriteLog[] = [];
    for (const round of [1, 2]) {
      logs.push(await writeThenCrash(`r${round}-`));
      const leaderId = await restartAsDocumented();
      for (const log of logs) {
        const result = await findLostWrites(cluster, log, leaderId);
        check(
          result.lost.length === 0,
          `round ${round}: ${result.lost.length} of ${result.checked} acknowledged writes lost, e.g. ${JSON.stringify(result.lost.slice(0, 5))} (answers: ${describeAnswers(log)})`,
        );
        expect(result.checked).toBeGreaterThanOrEqual(150);
      }
      await cluster.waitConverged([1, 2, 3]);
    }
  });
}, timeout);
