import { expect, test } from "bun:test";
import { check, Cluster, describeReply, fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Restarts on existing data dirs: -join on old state restarts the node from disk as the same member (no new
// member, no duplicate), whether it was stopped cleanly, killed, or was the leader; a changed HTTP address is
// picked up by the cluster.

const cluster = new Cluster({ name: "it-restart", extraArgs: fastFlags });
const timeout = 60_000;

formedForThisFile(cluster, { timeoutMs: timeout });

async function members(via: number): Promise<string[]> {
  const status = await cluster.status(via);
  check(status !== null, `node ${via} answers /status`);
  return status.members.map((m) => `${m.id}:${m.role}:${m.raft_addr}:${m.http_addr}`).sort();
}

async function writeKeys(prefix: string, count: number): Promise<void> {
  const { leaderId } = await cluster.waitForLeader();
  for (let i = 0; i < count; i++) {
    const reply = await cluster.put(leaderId, `${prefix}${i}`, `${prefix}-value${i}`);
    check(reply.status === 200, `write ${prefix}${i} through leader ${leaderId}: ${describeReply(reply)}`);
  }
}

/** heal restarts any node an earlier failed test left down, so one failure does not cascade. */
async function heal(): Promise<void> {
  const down = cluster.ids.filter((id) => !cluster.isRunning(id));
  const up = cluster.running()[0];
  if (up === undefined) return;
  for (const id of down) {
    await cluster.start(id, { join: up });
    await cluster.waitHttp(id);
  }
}

async function expectKeys(id: number, prefix: string, count: number): Promise<void> {
  await waitFor(async () => (await cluster.get(id, `${prefix}${count - 1}`)).status === 200, {
    deadlineMs: 15_000,
    what: `node ${id} to serve ${prefix}${count - 1}`,
  });
  for (let i = 0; i < count; i++) {
    const reply = await cluster.get(id, `${prefix}${i}`);
    check(reply.status === 200 && reply.json?.value === `${prefix}-value${i}`, `GET ${prefix}${i} on node ${id}: ${describeReply(reply)}`);
  }
}

for (const how of ["SIGTERM", "SIGINT", "kill -9"] as const) {
  test(`a follower stopped with ${how} restarts with -join and its old data, as the same member, and catches up`, async () => {
    await cluster.explain(async () => {
      await heal();
      const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
      const before = await members(leaderId);
      const follower = leaderId === 3 ? 2 : 3;
      if (how === "kill -9") await cluster.kill9(follower);
      else await cluster.stop(follower, { signal: how });
      const prefix = how.replace(/\W/g, "").toLowerCase();
      await writeKeys(prefix, 10);
      await cluster.start(follower, { join: leaderId });
      await cluster.waitHttp(follower);
      await expectKeys(follower, prefix, 10);
      const view = await cluster.waitForLeader({ among: [1, 2, 3] });
      expect(await members(view.leaderId)).toEqual(before);
      expect(await members(follower)).toEqual(before);
    });
  }, timeout);
}

test("the stopped leader restarts with -join to the new leader and follows it", async () => {
  await cluster.explain(async () => {
    await heal();
    const old = await cluster.waitForLeader({ among: [1, 2, 3] });
    const before = await members(old.leaderId);
    await cluster.stop(old.leaderId);
    const next = await cluster.waitForLeader({ among: cluster.running(), deadlineMs: 10_000 });
    await writeKeys("lead", 5);
    await cluster.start(old.leaderId, { join: next.leaderId });
    await cluster.waitHttp(old.leaderId);
    await expectKeys(old.leaderId, "lead", 5);
    const view = await cluster.waitForLeader({ among: [1, 2, 3] });
    expect(view.term).toBeGreaterThanOrEqual(next.term);
    expect(await members(view.leaderId)).toEqual(before);
  });
}, timeout);

test("a follower restarted on a new HTTP address is updated in the membership", async () => {
  await cluster.explain(async () => {
    await heal();
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const follower = leaderId === 3 ? 2 : 3;
    await cluster.stop(follower);
    const moved = cluster.moveAddr(follower, "http");
    await cluster.start(follower, { join: leaderId });
    await cluster.waitHttp(follower);
    await waitFor(
      async () => {
        const status = await cluster.status(leaderId);
        return status?.members.find((m) => m.id === follower)?.http_addr === moved;
      },
      { deadlineMs: 15_000, what: `the leader to list node ${follower} at its new HTTP address ${moved}` },
    );
    const view = await cluster.waitForLeader({ among: [1, 2, 3] });
    const status = await cluster.status(view.leaderId);
    expect(status?.members.filter((m) => m.role === "voter").map((m) => m.id).sort()).toEqual([1, 2, 3]);
    await writeKeys("moved", 3);
    await expectKeys(follower, "moved", 3);
  });
}, timeout);
