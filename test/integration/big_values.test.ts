import { test } from "bun:test";
import { check, Cluster, describeReply, fastFlags } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Values at the 1 MiB limit, written concurrently so the leader has several of them in flight at once
// (AppendEntries batches are bounded in bytes, frames in size): they replicate, survive a follower's kill -9 and
// catch-up, then a kill -9 of every node, and read back byte for byte on every node.

const cluster = new Cluster({ name: "it-bigvalues", extraArgs: fastFlags });
const timeout = 90_000;
const mib = 1024 * 1024;
const count = 16;

function bigValue(i: number): string {
  // Exactly 1 MiB, different per key, so a misplaced or truncated entry cannot pass.
  const unit = `${i.toString(36)}-0123456789abcdefghijklmnopqrstuvwxyz|`;
  return unit.repeat(Math.ceil(mib / unit.length)).slice(0, mib);
}

formedForThisFile(cluster, { timeoutMs: timeout });

async function writeAll(from: number, to: number, leaderId: number): Promise<void> {
  const replies = await Promise.all(
    Array.from({ length: to - from }, (_, n) => cluster.put(leaderId, `big${from + n}`, bigValue(from + n), 30_000)),
  );
  for (const [n, reply] of replies.entries()) check(reply.status === 200, `put big${from + n} (1 MiB): ${describeReply(reply)}`);
}

async function readAll(id: number, upTo: number): Promise<void> {
  for (let i = 0; i < upTo; i++) {
    // 503/504 while node 1, the designated leader, takes over after the restart means "retry shortly".
    const deadline = performance.now() + 10_000;
    let reply = await cluster.get(id, `big${i}`, { timeoutMs: 15_000 });
    while ((reply.status === 503 || reply.status === 504 || reply.status === 0) && performance.now() < deadline) {
      await Bun.sleep(50);
      reply = await cluster.get(id, `big${i}`, { timeoutMs: 15_000 });
    }
    check(reply.status === 200, `get big${i} on node ${id}: ${describeReply(reply)}`);
    const value = String(reply.json?.value);
    check(value === bigValue(i), `big${i} on node ${id} differs (length ${value.length}, expected ${mib})`);
  }
}

test("1 MiB values replicate, survive a follower's kill -9 and a kill -9 of all nodes", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const follower = leaderId === 3 ? 2 : 3;
    await writeAll(0, count / 2, leaderId);
    await cluster.kill9(follower);
    await writeAll(count / 2, count, leaderId);
    await cluster.start(follower, { join: leaderId });
    await cluster.waitHttp(follower);
    await cluster.waitConverged([1, 2, 3], 30_000);
    await readAll(follower, count);

    await Promise.all([1, 2, 3].map((id) => cluster.kill9(id)));
    await cluster.start(1, { bootstrap: true });
    await cluster.start(2, { join: 1 });
    await cluster.start(3, { join: 1 });
    await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 20_000 });
    await cluster.waitConverged([1, 2, 3], 30_000);
    for (const id of [1, 2, 3]) await readAll(id, count);
  });
}, timeout);
