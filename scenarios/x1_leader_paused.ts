import { check, describeReply, fastFlags, notYet, waitFor } from "./harness.ts";
import { expectRead, expectWrite, seconds } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// Extra: the leader is frozen with SIGSTOP for 5 s, then resumed. Meanwhile the others elect a new leader and
// overwrite a key. A linearizable read sent to the old leader after that overwrite was acknowledged must not
// return the old value; the old leader must step down; no acknowledged write may be lost.

const pauseMs = 5_000;

export const scenario: Scenario = {
  name: "x1_leader_paused",
  title: "leader paused with SIGSTOP for 5 s, then resumed",
  timeoutMs: 90_000,
  async setup(ctx) {
    await freshCluster(ctx, { extraArgs: fastFlags, name: "paused" });
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    const old = await cluster.waitForLeader({ among: [1, 2, 3] });
    const others = [1, 2, 3].filter((id) => id !== old.leaderId);
    const acked = new Map<string, string>();
    await expectWrite(cluster, old.leaderId, { op: "put", key: "pause_k", value: "before" });
    acked.set("pause_k", "before");

    const pausedAt = performance.now();
    cluster.pause(old.leaderId);
    const next = await cluster.waitForLeader({ among: others, deadlineMs: pauseMs - 500, what: "a new leader while the old one is paused" });
    check(next.term > old.term, `the new leader's term ${next.term} is above the paused leader's ${old.term}`);
    await expectWrite(cluster, next.leaderId, { op: "put", key: "pause_k", value: "after" });
    acked.set("pause_k", "after");
    for (let i = 0; i < 5; i++) {
      await expectWrite(cluster, next.leaderId, { op: "put", key: `pause_more${i}`, value: `m${i}` });
      acked.set(`pause_more${i}`, `m${i}`);
    }

    // Sent while the old leader is still frozen, after "after" was acknowledged: it waits in the socket buffer
    // and is handled the moment the process resumes, while it may still believe it leads.
    const staleRead = cluster.get(old.leaderId, "pause_k", { timeoutMs: 15_000 });
    const pausedWrite = cluster.put(old.leaderId, "pause_w", "sent while paused", 15_000);
    await Bun.sleep(Math.max(0, pauseMs - (performance.now() - pausedAt)));
    cluster.resume(old.leaderId);

    const read = await staleRead;
    check(
      !(read.status === 200 && read.json?.value === "before"),
      `the resumed old leader served a stale linearizable read: ${describeReply(read)}`,
    );
    if (read.status === 200) check(read.json?.value === "after", `a read after the overwrite returns "after", got ${describeReply(read)}`);
    ctx.notes.push(`read sent to the paused leader answered: ${describeReply(read)}`);

    await waitFor(
      async () => {
        const s = await cluster.status(old.leaderId);
        if (s === null) return notYet("no /status answer");
        return (!s.is_leader && s.leader_id !== 0 && s.leader_id !== old.leaderId && s.term >= next.term) || notYet(s);
      },
      { deadlineMs: 10_000, what: `node ${old.leaderId} to step down and follow the new leader` },
    );
    const write = await pausedWrite;
    ctx.notes.push(`write sent to the paused leader answered: ${describeReply(write)}`);
    if (write.status === 200) acked.set("pause_w", "sent while paused");

    const view = await cluster.waitForLeader({ among: [1, 2, 3] });
    for (const [key, value] of acked) await expectRead(cluster, view.leaderId, key, value);
    await cluster.waitConverged([1, 2, 3]);
    ctx.notes.push(`paused ${seconds(pauseMs)}; node ${next.leaderId} took over in term ${next.term}`);
  },
};
