import { expect, test } from "bun:test";
import { check, Cluster, describeReply, errorCode, request } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Every waiting request has a deadline (issue 4): with both followers frozen, a write the leader appended cannot
// commit, and after --request-timeout-ms it is answered 504 timeout saying the outcome is unknown. The election
// timeout is set well above the request deadline so the leader is still leading when the deadline passes.

const cluster = new Cluster({
  name: "it-timeout",
  extraArgs: ["--heartbeat-ms", "50", "--election-ms", "3000", "--request-timeout-ms", "400"],
});
const timeout = 60_000;

formedForThisFile(cluster, { timeoutMs: timeout });

test("a write that cannot commit is answered 504 timeout (outcome unknown) by the deadline", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader();
    const followers = [1, 2, 3].filter((id) => id !== leaderId);
    for (const id of followers) cluster.pause(id);
    let reply;
    try {
      reply = await cluster.put(leaderId, "stuck", "maybe", 10_000);
    } finally {
      for (const id of followers) cluster.resume(id);
    }
    check(reply.status === 504 && errorCode(reply) === "timeout", `expected 504 timeout, got ${describeReply(reply)}`);
    expect(String(reply.json?.message)).toMatch(/unknown/i);
    expect(reply.elapsedMs).toBeGreaterThanOrEqual(350);
    expect(reply.elapsedMs).toBeLessThan(3000);

    // Once the followers are back the cluster works again; the timed-out write may or may not have applied,
    // but every replica agrees on it.
    const view = await cluster.waitForLeader({ among: [1, 2, 3] });
    const after = await cluster.put(view.leaderId, "after_timeout", "ok");
    check(after.status === 200, `write after the followers resumed: ${describeReply(after)}`);
    await cluster.waitConverged([1, 2, 3]);
    const values = await Promise.all([1, 2, 3].map(async (id) => (await cluster.get(id, "stuck", { consistency: "stale" })).json?.value ?? null));
    expect(new Set(values).size).toBe(1);
  });
}, timeout);

test("the node answers /status and /livez while a write is stuck", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader();
    const followers = [1, 2, 3].filter((id) => id !== leaderId);
    for (const id of followers) cluster.pause(id);
    try {
      const stuck = cluster.put(leaderId, "stuck2", "maybe", 10_000);
      const status = await cluster.status(leaderId, 1000);
      check(status !== null, `leader ${leaderId} answers /status while a write waits`);
      const livez = await request(cluster.node(leaderId).httpAddr, "/livez", { timeoutMs: 1000 });
      check(livez.status === 200, `leader ${leaderId} answers /livez while a write waits: ${describeReply(livez)}`);
      const reply = await stuck;
      check(reply.status === 504 || reply.status === 503, `stuck write answered: ${describeReply(reply)}`);
    } finally {
      for (const id of followers) cluster.resume(id);
    }
    await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 15_000 });
  });
}, timeout);
