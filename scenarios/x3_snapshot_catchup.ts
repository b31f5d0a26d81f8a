import { check, describeReply, fastFlags, notYet, waitFor } from "./harness.ts";
import { expectWrite } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// Extra: a follower is stopped, the others write far past it and compact their logs (snapshots every 50 entries,
// 10 kept behind), and the restarted follower can only catch up by installing a snapshot.

const snapshotEntries = 50;
const trailingEntries = 10;
const writes = 300;

export const scenario: Scenario = {
  name: "x3_snapshot_catchup",
  title: "a follower restarted after compaction catches up through a snapshot",
  timeoutMs: 90_000,
  async setup(ctx) {
    await freshCluster(ctx, {
      name: "snapshot",
      extraArgs: [
        ...fastFlags,
        "--snapshot-entries", String(snapshotEntries),
        "--trailing-entries", String(trailingEntries),
        // Small segments, so that compaction really deletes the entries the follower would need.
        "--segment-bytes", "4096",
      ],
    });
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const follower = leaderId === 3 ? 2 : 3;
    const last = await cluster.status(follower);
    check(last !== null, `follower ${follower} answers /status`);
    await cluster.stop(follower);

    for (let i = 0; i < writes; i++) await expectWrite(cluster, leaderId, { op: "put", key: `snap${i}`, value: `value${i}` });
    const compacted = await waitFor(
      async () => {
        const s = await cluster.status(leaderId);
        return (s !== null && s.snapshot_index - trailingEntries > last.last_log_index) ? s : notYet(s?.snapshot_index);
      },
      { deadlineMs: 10_000, what: `leader ${leaderId} to compact its log past the follower's last index ${last.last_log_index}` },
    );

    await cluster.start(follower, { join: leaderId });
    await cluster.waitHttp(follower);
    await waitFor(
      async () => {
        const s = await cluster.status(follower);
        return (s !== null && s.applied_index >= compacted.commit_index) || notYet(s?.applied_index);
      },
      { deadlineMs: 20_000, what: `follower ${follower} to apply up to index ${compacted.commit_index}` },
    );
    const status = await cluster.status(follower);
    check(status !== null, `follower ${follower} answers /status`);
    check(status.snapshots_installed >= 1, `follower ${follower} installed a snapshot; snapshots_installed = ${status.snapshots_installed}`);
    for (const i of [0, 1, writes / 2, writes - 1]) {
      const reply = await cluster.get(follower, `snap${i}`, { consistency: "stale" });
      check(reply.status === 200 && reply.json?.value === `value${i}`, `stale read of snap${i} on follower ${follower}: got ${describeReply(reply)}`);
    }
    await cluster.waitConverged([1, 2, 3]);
    ctx.notes.push(`follower ${follower} stopped at index ${last.last_log_index}; leader snapshot at ${compacted.snapshot_index}; caught up via ${status.snapshots_installed} snapshot(s)`);
  },
};
