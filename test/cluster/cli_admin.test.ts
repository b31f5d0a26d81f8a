import { afterAll, beforeAll, expect, test } from "bun:test";
import { Cluster, describeReply, errorCode, fastFlags, freePort, notYet, waitFor } from "../../scenarios/harness.ts";
import { describeCli, post, runCli, writeKeys, keepFiles } from "./support.ts";

// Issue 5, the operator commands on a healthy 3-node cluster of the binary: `qklzl members`,
// `qklzl transfer-leader --to N` (N then reports is_leader), `qklzl snapshot`, `qklzl check` (exit 0), and one
// membership change at a time: a second change while the first is uncommitted is refused with 409
// change_in_progress, not queued.

const cluster = new Cluster({ name: "e2e-admin", extraArgs: fastFlags });

beforeAll(async () => {
  await cluster.explain(() => cluster.startFresh());
}, 60_000);

afterAll(async () => {
  await cluster.destroy({ keepFiles: keepFiles() });
});

function addr(id: number): string {
  return cluster.node(id).httpAddr;
}

test("qklzl members lists the three voters, the leader marked, also as JSON", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader();
    const follower = leaderId === 1 ? 2 : 1;
    const args = ["members", "--addr", addr(follower)];
    const table = await runCli(args);
    expect(table.code, describeCli(args, table)).toBe(0);
    for (const id of [1, 2, 3]) {
      expect(table.stdout).toContain(cluster.node(id).raftAddr);
      expect(table.stdout).toContain(addr(id));
    }
    expect(table.stdout).toMatch(new RegExp(`^\\s*${leaderId}\\*`, "m"));
    expect(table.stdout.match(/voter/g)?.length).toBe(3);

    const jsonArgs = ["members", "--json", "--addr", addr(follower)];
    const json = await runCli(jsonArgs);
    expect(json.code, describeCli(jsonArgs, json)).toBe(0);
    const parsed = JSON.parse(json.stdout) as { leader_id: number; members: { id: number; role: string; raft_addr: string; http_addr: string }[] };
    expect(parsed.leader_id).toBe(leaderId);
    expect(parsed.members.map((m) => [m.id, m.role, m.raft_addr, m.http_addr])).toEqual(
      [1, 2, 3].map((id) => [id, "voter", cluster.node(id).raftAddr, addr(id)]),
    );
  });
}, 30_000);

test("qklzl transfer-leader --to N: node N reports is_leader and the others follow it", async () => {
  await cluster.explain(async () => {
    for (let round = 0; round < 2; round++) {
      const { leaderId } = await cluster.waitForLeader();
      const target = leaderId === 3 ? 1 : leaderId + 1;
      // Sent to a node that is neither: the CLI must find the leader itself.
      const other = [1, 2, 3].find((id) => id !== leaderId && id !== target)!;
      const args = ["transfer-leader", "--to", String(target), "--addr", addr(other)];
      const result = await runCli(args);
      expect(result.code, describeCli(args, result)).toBe(0);
      const view = await cluster.waitForLeader({ deadlineMs: 10_000 });
      expect(view.leaderId).toBe(target);
      expect(view.statuses.get(target)?.is_leader).toBe(true);
      // And it takes writes.
      const reply = await cluster.put(target, `after-transfer-${round}`, "yes");
      expect(reply.status, describeReply(reply)).toBe(200);
    }
  });
}, 40_000);

test("qklzl snapshot takes a snapshot now; qklzl check exits 0 on a healthy cluster", async () => {
  await cluster.explain(async () => {
    const written = await writeKeys(cluster, { count: 300, key: (i) => `adm${i}`, value: (i) => `v${i}`, concurrency: 8 });
    expect(written.acked).toBe(300);
    const { leaderId } = await cluster.waitForLeader();
    const before = await cluster.status(leaderId);
    const snapArgs = ["snapshot", "--addr", addr(leaderId)];
    const snap = await runCli(snapArgs);
    expect(snap.code, describeCli(snapArgs, snap)).toBe(0);
    const after = await cluster.status(leaderId);
    expect(after!.snapshot_index).toBeGreaterThanOrEqual(written.lastIndex);
    expect(after!.snapshot_index).toBeGreaterThan(before!.snapshot_index);

    await cluster.waitConverged([1, 2, 3]);
    const checkArgs = ["check", "--addr", addr(1), "--wait", "10s"];
    const check = await runCli(checkArgs);
    expect(check.code, describeCli(checkArgs, check)).toBe(0);
    expect(check.stdout).toContain("OK");
    const jsonArgs = ["check", "--json", "--addr", addr(2)];
    const json = await runCli(jsonArgs);
    expect(json.code, describeCli(jsonArgs, json)).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: "agree" });
  });
}, 40_000);

test("a second membership change while one is uncommitted is refused with 409 change_in_progress", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader();
    const followers = [1, 2, 3].filter((id) => id !== leaderId);
    const ghost = (id: number) => ({ id, raft_addr: `127.0.0.1:${freePort()}`, http_addr: `127.0.0.1:${freePort()}` });
    // Freeze both followers so the first change cannot commit, well within the election timeout.
    for (const id of followers) cluster.pause(id);
    let first: Promise<Awaited<ReturnType<typeof post>>>;
    let second: Awaited<ReturnType<typeof post>>;
    try {
      first = post(cluster, leaderId, "/join", ghost(7), 15_000);
      await Bun.sleep(100);
      second = await post(cluster, leaderId, "/join", ghost(8), 5_000);
    } finally {
      for (const id of followers) cluster.resume(id);
    }
    expect(second.status, describeReply(second)).toBe(409);
    expect(errorCode(second)).toBe("change_in_progress");
    expect(typeof second.json?.message).toBe("string");
    const firstReply = await first;
    expect(firstReply.status, describeReply(firstReply)).toBe(200);

    // Not queued: node 8 never appears, node 7 is a learner; then remove node 7 again.
    const members = await waitFor(
      async () => {
        const s = await cluster.status(leaderId);
        return s !== null && s.members.some((m) => m.id === 7) ? s.members : notYet(s?.members);
      },
      { deadlineMs: 10_000, what: "the leader to list learner 7" },
    );
    expect(members.find((m) => m.id === 7)?.role).toBe("learner");
    await Bun.sleep(500);
    expect((await cluster.status(leaderId))!.members.some((m) => m.id === 8)).toBe(false);
    const leave = await post(cluster, leaderId, "/leave", { id: 7 }, 10_000);
    expect(leave.status, describeReply(leave)).toBe(200);
    await cluster.waitForVoters(leaderId, [1, 2, 3], 10_000);
  });
}, 40_000);
