import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { check, Cluster, describeReply, fastFlags, request, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Issue 10 item 5: `qklzl leave 2`, delete data2, start node 2 with -join. The rejoining node replays the log
// from index 1, including the entry that removed its earlier incarnation: that is history, not an event, and
// must not stop it. Leave → wipe → rejoin works any number of times and ends with the node a voter. A node
// restarted from disk after a genuine removal still says it was removed and exits.

const cluster = new Cluster({ name: "it-rejoin", extraArgs: fastFlags });
const timeout = 120_000;

formedForThisFile(cluster, { timeoutMs: timeout });

async function leave(id: number): Promise<void> {
  const reply = await waitFor(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: cluster.running(), deadlineMs: 10_000 });
    const r = await request(cluster.node(leaderId).httpAddr, "/leave", { json: { id }, timeoutMs: 10_000 });
    return r.status === 200 ? r : null;
  }, { deadlineMs: 20_000, what: `POST /leave {id: ${id}} to be accepted` });
  check(reply.status === 200, describeReply(reply));
}

async function exitCode(id: number, deadlineMs: number): Promise<number | null> {
  const proc = cluster.node(id).proc!;
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(deadlineMs).then(() => false)]);
  check(exited, `node ${id} exits within ${deadlineMs} ms`);
  return proc.exitCode;
}

async function writeKeys(prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const reply = await waitFor(async () => {
      const { leaderId } = await cluster.waitForLeader({ among: cluster.running(), deadlineMs: 10_000 });
      const r = await cluster.put(leaderId, `${prefix}${i}`, `${prefix}-v${i}`);
      return r.status === 200 ? r : null;
    }, { deadlineMs: 15_000, what: `write ${prefix}${i}` });
    check(reply.status === 200, describeReply(reply));
  }
}

async function expectKeys(id: number, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const reply = await cluster.get(id, `${prefix}${i}`);
    check(reply.status === 200 && reply.json?.value === `${prefix}-v${i}`, `GET ${prefix}${i} on node ${id}: ${describeReply(reply)}`);
  }
}

test("leave 2 → wipe data2 → start node 2 with -join, three times: it catches up and ends a voter each time", async () => {
  await cluster.explain(async () => {
    for (let round = 1; round <= 3; round++) {
      await writeKeys(`before${round}-`, 5);
      await leave(2);
      expect(await exitCode(2, 15_000)).toBe(0);
      rmSync(cluster.node(2).dataDir, { recursive: true, force: true });
      await writeKeys(`away${round}-`, 5);
      const { leaderId } = await cluster.waitForLeader({ among: [1, 3], deadlineMs: 15_000 });
      await cluster.start(2, { join: leaderId });
      await cluster.waitHttp(2);
      await cluster.waitForVoters(leaderId, [1, 2, 3], 30_000);
      await cluster.waitForVoters(2, [1, 2, 3], 30_000);
      // Still up a moment later: it did not act on the removal of its earlier incarnation.
      await Bun.sleep(1500);
      check(cluster.isRunning(2), `round ${round}: node 2 stopped after rejoining (${cluster.describeExit(2)})`);
      await writeKeys(`after${round}-`, 5);
      await cluster.waitConverged([1, 2, 3]);
      for (const prefix of [`before${round}-`, `away${round}-`, `after${round}-`]) await expectKeys(2, prefix, 5);
    }
  });
}, timeout);

test("a node restarted from disk after a genuine removal says it was removed and exits 0", async () => {
  await cluster.explain(async () => {
    await leave(3);
    expect(await exitCode(3, 15_000)).toBe(0);
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2], deadlineMs: 15_000 });
    await cluster.start(3, { join: leaderId });
    expect(await exitCode(3, 20_000)).toBe(0);
    const log = readFileSync(cluster.node(3).logPath, "utf8");
    const lastStart = log.slice(log.lastIndexOf("=== harness: start"));
    expect(lastStart).toContain("was removed from the cluster");
    const status = await cluster.status(leaderId);
    expect(status?.members.map((m) => m.id).sort()).toEqual([1, 2]);
  });
}, timeout);
