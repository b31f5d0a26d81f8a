import { check, describeAnswers, fastFlags, findLostWrites, startWriters, waitFor } from "./harness.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// Extra: kill -9 of the leader while three clients write continuously. The survivors elect a new leader and
// keep taking writes; after the killed node restarts, every acknowledged write reads back with its value.

export const scenario: Scenario = {
  name: "x2_leader_kill9_writes",
  title: "kill -9 of the leader under continuous writes",
  timeoutMs: 90_000,
  async setup(ctx) {
    await freshCluster(ctx, { extraArgs: fastFlags, name: "kill9" });
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const old = await cluster.waitForLeader({ among: [1, 2, 3] });
    const writers = startWriters(cluster, { writers: 3, prefix: "k9-" });
    try {
      await waitFor(() => writers.log.acked.size >= 50, { deadlineMs: 15_000, what: "50 acknowledged writes before the kill" });
      const ackedBeforeKill = writers.log.acked.size;
      await cluster.kill9(old.leaderId);
      const survivors = cluster.running();
      const next = await cluster.waitForLeader({ among: survivors, deadlineMs: 10_000 });
      check(next.term > old.term, `the new term ${next.term} is above ${old.term}`);
      await waitFor(() => writers.log.acked.size >= ackedBeforeKill + 50, {
        deadlineMs: 15_000,
        what: "50 more acknowledged writes through the new leader",
      });
    } finally {
      await writers.stop();
    }
    await cluster.start(old.leaderId, { join: cluster.running()[0]! });
    const view = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 20_000 });
    await cluster.waitConverged([1, 2, 3]);
    const result = await findLostWrites(cluster, writers.log, view.leaderId);
    check(
      result.lost.length === 0,
      `${result.lost.length} of ${result.checked} acknowledged writes lost, e.g. ${JSON.stringify(result.lost.slice(0, 5))}`,
    );
    ctx.notes.push(`${result.checked} acknowledged writes all read back (${writers.log.unknown.size} unknown outcome; answers: ${describeAnswers(writers.log)})`);
  },
};
