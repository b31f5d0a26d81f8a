import { rmSync } from "node:fs";
import { check, fastFlags, nodeCommand } from "./harness.ts";
import { expectRead, expectWrite } from "./expect.ts";
import { clusterOf, freshCluster, type Scenario } from "./scenario.ts";

// Extra (issue 10 item 5), as a new user would: `qklzl leave 2`, delete data2, start node 2 again with -join.
// Node 2 must join, catch up and end a voter, three times in a row; after each round a write through the leader
// reads back on every node, and node 2 holds every earlier round's writes too.

const rounds = 3;

/** cli runs `qklzl ARGS` (the same binary as the nodes) and returns its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn([...(await nodeCommand()), ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, CI: "true", NO_COLOR: "1" } });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: `${out}${err}`.trim() };
}

export const scenario: Scenario = {
  name: "x4_leave_wipe_rejoin",
  title: "leave 2, wipe data2, rejoin with -join: node 2 ends a voter (three rounds)",
  timeoutMs: 150_000,
  async setup(ctx) {
    await freshCluster(ctx, { name: "rejoin", extraArgs: fastFlags });
  },
  async run(ctx) {
    const cluster = clusterOf(ctx);
    for (let round = 1; round <= rounds; round++) {
      const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
      const via = leaderId === 2 ? 1 : leaderId;
      const leave = await cli(["leave", "2", "--addr", cluster.node(via).httpAddr, "--timeout", "15000"]);
      check(leave.code === 0, `round ${round}: \`qklzl leave 2\` exited ${leave.code}: ${leave.out}`);
      const proc = cluster.node(2).proc!;
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(15_000).then(() => false)]);
      check(exited && proc.exitCode === 0, `round ${round}: node 2 shuts itself down after leave (${cluster.describeExit(2)})`);

      rmSync(cluster.node(2).dataDir, { recursive: true, force: true });
      const view = await cluster.waitForLeader({ among: [1, 3], deadlineMs: 15_000 });
      await cluster.start(2, { join: view.leaderId });
      await cluster.waitHttp(2);
      await cluster.waitForVoters(view.leaderId, [1, 2, 3], 30_000);
      await cluster.waitForVoters(2, [1, 2, 3], 30_000);

      const writer = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 15_000 });
      await expectWrite(cluster, writer.leaderId, { op: "put", key: `rejoin${round}`, value: `round ${round}` });
      for (const id of [1, 2, 3]) {
        for (let r = 1; r <= round; r++) await expectRead(cluster, id, `rejoin${r}`, `round ${r}`, { retryUnavailableMs: 5_000 });
      }
      check(cluster.isRunning(2), `round ${round}: node 2 still runs after catching up (${cluster.describeExit(2)})`);
    }
    await cluster.waitConverged([1, 2, 3]);
    ctx.notes.push(`${rounds} rounds of leave → wipe → rejoin; node 2 a voter after each`);
  },
};
