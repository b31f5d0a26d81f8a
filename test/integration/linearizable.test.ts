import { test } from "bun:test";
import { check, checkHistory, Cluster, fastFlags, recordHistory, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Reads are linearizable by default on every node (issue 4). Concurrent writers (through the leader) and readers
// (on every node, followers included) run while the leader is frozen, then killed, then a follower is killed;
// the recorded history must contain no stale read (see scenarios/harness/history.ts for what is checked).

const cluster = new Cluster({ name: "it-linearizable", extraArgs: fastFlags });
const timeout = 90_000;

formedForThisFile(cluster, { timeoutMs: timeout });

function countOf(ops: { kind: string }[], kind: string): number {
  return ops.filter((op) => op.kind === kind).length;
}

test("no stale read on any node while the leader is paused, killed, and a follower is killed", async () => {
  await cluster.explain(async () => {
    const history = recordHistory(cluster, { keys: 3, writers: 2, readers: 3, requestTimeoutMs: 1500 });
    const progress = async (what: string) => {
      const target = history.ops.length + 100;
      await waitFor(() => history.ops.length >= target, { deadlineMs: 20_000, what: `100 more operations ${what}` });
    };
    try {
      await progress("before any fault");

      const paused = (await cluster.waitForLeader({ among: [1, 2, 3] })).leaderId;
      cluster.pause(paused);
      await cluster.waitForLeader({ among: [1, 2, 3].filter((id) => id !== paused), deadlineMs: 10_000 });
      await progress(`while node ${paused} is frozen`);
      cluster.resume(paused);
      await progress(`after node ${paused} resumed`);

      const killed = (await cluster.waitForLeader({ among: [1, 2, 3] })).leaderId;
      await cluster.kill9(killed);
      const survivors = cluster.running();
      await cluster.waitForLeader({ among: survivors, deadlineMs: 10_000 });
      await progress(`while node ${killed} is down`);
      await cluster.start(killed, { join: survivors[0]! });
      await cluster.waitHttp(killed);
      await progress(`after node ${killed} restarted`);

      const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
      const follower = [1, 2, 3].find((id) => id !== leaderId)!;
      await cluster.kill9(follower);
      await progress(`while follower ${follower} is down`);
      await cluster.start(follower, { join: leaderId });
      await cluster.waitHttp(follower);
      await progress(`after follower ${follower} restarted`);
    } finally {
      await history.stop();
    }
    const violations = checkHistory(history.ops);
    check(
      violations.length === 0,
      `${violations.length} violations in ${history.ops.length} operations, e.g.:\n${violations.slice(0, 5).join("\n")}`,
    );
    check(countOf(history.ops, "read") >= 300 && countOf(history.ops, "write") >= 50, `enough operations to mean something: ${countOf(history.ops, "read")} reads, ${countOf(history.ops, "write")} writes`);
  });
}, timeout);
