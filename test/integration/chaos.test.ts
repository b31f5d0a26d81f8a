import { test } from "bun:test";
import { check, Cluster, describeAnswers, fastFlags, findLostWrites, startWriters, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Rounds of faults under continuous writes, with snapshots and log compaction happening all along (small
// --snapshot-entries and segments): kill -9 of the leader, kill -9 of a follower, the leader frozen (SIGSTOP)
// until the others have elected a new leader and taken writes. A killed node restarts from its data dir; at the
// end every replica has the same state and no acknowledged write is missing.

const rounds = 6;
const faults = ["kill -9 leader", "kill -9 follower", "pause leader"] as const;
const cluster = new Cluster({
  name: "it-chaos",
  extraArgs: [...fastFlags, "--snapshot-entries", "100", "--trailing-entries", "20", "--segment-bytes", "8192"],
});
const timeout = 120_000;

formedForThisFile(cluster, { timeoutMs: timeout });

test(`${rounds} rounds of kill -9 and SIGSTOP under writes, with compaction, lose no acknowledged write`, async () => {
  await cluster.explain(async () => {
    // A short client timeout: a request stuck on the frozen leader is given up (outcome unknown) and retried elsewhere.
    const writers = startWriters(cluster, { writers: 3, prefix: "chaos-", requestTimeoutMs: 1500 });
    const victims: string[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        const target = writers.log.acked.size + 40;
        await waitFor(() => writers.log.acked.size >= target, { deadlineMs: 20_000, what: `round ${round}: 40 more acknowledged writes` });
        const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 15_000 });
        const fault = faults[round % faults.length]!;
        const victim = fault === "kill -9 follower" ? [1, 2, 3].find((id) => id !== leaderId)! : leaderId;
        victims.push(`${fault} (node ${victim})`);
        if (fault === "pause leader") cluster.pause(victim);
        else await cluster.kill9(victim);
        const survivors = [1, 2, 3].filter((id) => id !== victim);
        await cluster.waitForLeader({ among: survivors, deadlineMs: 15_000 });
        const during = writers.log.acked.size + 20;
        await waitFor(() => writers.log.acked.size >= during, { deadlineMs: 20_000, what: `round ${round}: writes while node ${victim} is out` });
        if (fault === "pause leader") {
          cluster.resume(victim);
        } else {
          // Node 1 comes back the documented way (-bootstrap: the designated leader); the others -join a survivor.
          await cluster.start(victim, victim === 1 ? { bootstrap: true } : { join: survivors[0]! });
          await cluster.waitHttp(victim);
        }
      }
    } finally {
      await writers.stop();
    }
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 20_000 });
    await cluster.waitConverged([1, 2, 3], 30_000);
    const result = await findLostWrites(cluster, writers.log, leaderId);
    check(
      result.lost.length === 0,
      `faults ${victims.join(", ")}: ${result.lost.length} of ${result.checked} acknowledged writes lost, e.g. ${JSON.stringify(result.lost.slice(0, 5))} (answers: ${describeAnswers(writers.log)})`,
    );
    check(result.checked >= rounds * 60, `enough writes were acknowledged to mean something: ${result.checked}`);
  });
}, timeout);
