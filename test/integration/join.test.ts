import { afterAll, expect, test } from "bun:test";
import { check, Cluster, describeReply, fastFlags } from "../../scenarios/harness.ts";

// Joining on an empty data dir (issue 4): a node whose -join target is not up yet keeps retrying instead of
// exiting, and a join sent through a follower reaches the leader.

const cluster = new Cluster({ name: "it-join", extraArgs: fastFlags });
const timeout = 60_000;

afterAll(async () => {
  await cluster.destroy();
});

test("a node started with -join before the cluster exists retries until it can join", async () => {
  await cluster.explain(async () => {
    await cluster.start(2, { join: 1 });
    // Node 1 is not running: node 2 must neither exit nor claim membership of anything.
    await Bun.sleep(1500);
    check(cluster.isRunning(2), `node 2 keeps running while its join target is down (${cluster.describeExit(2)})`);
    await cluster.start(1, { bootstrap: true });
    await cluster.waitHttp(1);
    await cluster.waitForVoters(1, [1, 2]);
    const view = await cluster.waitForLeader({ among: [1, 2] });
    expect(view.leaderId).toBe(1);
  });
}, timeout);

test("a join sent through a follower reaches the leader", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2] });
    const follower = leaderId === 1 ? 2 : 1;
    await cluster.start(3, { join: follower });
    await cluster.waitHttp(3);
    await cluster.waitForVoters(leaderId, [1, 2, 3]);
    const view = await cluster.waitForLeader({ among: [1, 2, 3] });
    const reply = await cluster.put(view.leaderId, "joined", "via follower");
    check(reply.status === 200, `write after the join: ${describeReply(reply)}`);
    const read = await cluster.get(3, "joined");
    check(read.status === 200 && read.json?.value === "via follower", `read on node 3: ${describeReply(read)}`);
  });
}, timeout);
