import { test } from "bun:test";
import { check, Cluster, describeReply, fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Election safety across a crash of every node: a node restarted alone holds a log whose configuration has three
// voters, so it must not lead (it cannot reach a majority), must not acknowledge a write, and once the others
// are back there is never more than one leader in a term. Found by big_values.test.ts at 16:38 UTC: node 1,
// restarted after kill -9 with "members 1" (the configuration of its last *persisted* commit index, not of its
// log), elected itself at once and stayed leader of term 3 beside node 2, also leader of term 3, for 20 s.

const cluster = new Cluster({ name: "it-lone", extraArgs: fastFlags });
const timeout = 60_000;

formedForThisFile(cluster, { timeoutMs: timeout });

/** watchLeaders polls every node for `durationMs` and returns every (term -> leader ids) it saw claimed. */
async function watchLeaders(durationMs: number): Promise<Map<number, Set<number>>> {
  const seen = new Map<number, Set<number>>();
  const end = performance.now() + durationMs;
  while (performance.now() < end) {
    const statuses = await cluster.statuses(cluster.running());
    for (const s of statuses.values()) {
      if (!s.is_leader) continue;
      const ids = seen.get(s.term) ?? new Set<number>();
      ids.add(s.id);
      seen.set(s.term, ids);
    }
    await Bun.sleep(25);
  }
  return seen;
}

function describeLeaders(seen: Map<number, Set<number>>): string {
  return [...seen.entries()].map(([term, ids]) => `term ${term}: node ${[...ids].join(" and node ")}`).join("; ") || "none";
}

test("after kill -9 of every node, node 1 restarted alone neither leads nor acknowledges a write", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    for (let i = 0; i < 5; i++) check((await cluster.put(leaderId, `lone${i}`, `v${i}`)).status === 200, `seed write lone${i}`);
    await Promise.all([1, 2, 3].map((id) => cluster.kill9(id)));

    await cluster.start(1, { bootstrap: true });
    await cluster.waitHttp(1);
    // Several election timeouts (500-1000 ms with these flags) with nodes 2 and 3 down.
    const alone = await watchLeaders(2500);
    check(alone.size === 0, `node 1 alone (nodes 2 and 3 down) must not lead a 3-voter cluster; it claimed: ${describeLeaders(alone)}`);
    const write = await cluster.put(1, "lone_write", "must not be acknowledged", 8000);
    check(write.status !== 200, `a write to node 1 alone must not be acknowledged, got ${describeReply(write)}`);
  });
}, timeout);

test("when the others come back there is at most one leader per term, and the data is all there", async () => {
  await cluster.explain(async () => {
    if (!cluster.isRunning(1)) await cluster.start(1, { bootstrap: true });
    await cluster.start(2, { join: 1 });
    await cluster.start(3, { join: 1 });
    const seen = await watchLeaders(4000);
    const split = [...seen.entries()].filter(([, ids]) => ids.size > 1);
    check(split.length === 0, `two leaders in one term: ${describeLeaders(seen)}`);
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    await cluster.waitConverged([1, 2, 3]);
    for (let i = 0; i < 5; i++) {
      await waitFor(async () => {
        const reply = await cluster.get(leaderId, `lone${i}`);
        if (reply.status === 503 || reply.status === 504) return null;
        check(reply.status === 200 && reply.json?.value === `v${i}`, `lone${i} after the restart: ${describeReply(reply)}`);
        return true;
      }, { deadlineMs: 10_000, what: `lone${i} to be readable` });
    }
  });
}, timeout);

test("kill -9 of every node then all three restarted at once: never two leaders in a term (3 rounds)", async () => {
  await cluster.explain(async () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) {
        // Through whichever node leads now; a hand-over (the designated leader taking over) is waited out.
        const reply = await waitFor(async () => {
          const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 15_000 });
          const r = await cluster.put(leaderId, `round${round}-${i}`, "v");
          return r.status === 200 ? r : null;
        }, { deadlineMs: 20_000, what: `round ${round}: write round${round}-${i} acknowledged` });
        check(reply.status === 200, describeReply(reply));
      }
      await Promise.all(cluster.running().map((id) => cluster.kill9(id)));
      await Promise.all([cluster.start(1, { bootstrap: true }), cluster.start(2, { join: 1 }), cluster.start(3, { join: 1 })]);
      const seen = await watchLeaders(3000);
      const split = [...seen.entries()].filter(([, ids]) => ids.size > 1);
      check(split.length === 0, `round ${round}: two leaders in one term: ${describeLeaders(seen)}`);
    }
  });
}, timeout);
