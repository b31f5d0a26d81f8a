import { afterAll, expect, test } from "bun:test";
import type { StatusJson } from "../../src/node/api.ts";
import { check, Cluster, describeReply, fastFlags, freePort, notYet, request, waitFor } from "../../scenarios/harness.ts";
import { startBackToBack, stopLeaderSoonAfterWrites } from "../../scenarios/x5_back_to_back_start_failover.ts";
import { describeCli, runCli } from "../cluster/support.ts";
import { readFileSync } from "node:fs";

// Issue 10 item 6, fault tolerance from the first second: learners promoted back to back, /status reporting
// fault_tolerance (1 with three voters up, 0 with one down) and each node's role, `qklzl status` warning at 0,
// and a learner the leader has not heard from reported in /status, /metrics and once in the log.

const timeout = 90_000;
const clusters: Cluster[] = [];

function newCluster(name: string, extraArgs: string[]): Cluster {
  const cluster = new Cluster({ name, extraArgs });
  clusters.push(cluster);
  return cluster;
}

afterAll(async () => {
  for (const cluster of clusters) await cluster.destroy();
});

async function statusOf(cluster: Cluster, id: number): Promise<StatusJson> {
  const status = await cluster.status(id);
  check(status !== null, `node ${id} answers /status`);
  return status;
}

test("three nodes started back to back survive the leader's stop a second after the first writes", async () => {
  // A long election timeout (3 s) with the default heartbeat: promotions spaced one election timeout apart
  // leave node 3 a learner at the stop; promoted back to back it is a voter within a few heartbeats.
  const cluster = newCluster("ft-story", ["--election-ms", "3000"]);
  await cluster.explain(async () => {
    await startBackToBack(cluster);
    await stopLeaderSoonAfterWrites(cluster);
  });
}, timeout);

test("fault_tolerance is 1 with three voters up and 0 with one down, on every node; qklzl status warns at 0", async () => {
  const cluster = newCluster("ft-figure", fastFlags);
  await cluster.explain(async () => {
    await cluster.startFresh();
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const followers = [1, 2, 3].filter((id) => id !== leaderId);
    const leader = await statusOf(cluster, leaderId);
    expect([leader.fault_tolerance, leader.fault_tolerance_source, leader.role]).toEqual([1, "leader", "voter"]);
    expect(leader.silent_learners).toEqual([]);
    // Followers relay the leader's figure (fetched once per election timeout).
    await waitFor(
      async () => {
        const all = await cluster.statuses(followers);
        const seen = [...all.values()].map((s) => [s.id, s.fault_tolerance, s.fault_tolerance_source, s.role]);
        return seen.length === 2 && seen.every((s) => s[1] === 1 && s[2] === "relayed" && s[3] === "voter") ? true : notYet(seen);
      },
      { deadlineMs: 10_000, what: "both followers to relay fault_tolerance 1" },
    );
    const metrics = await request(cluster.node(leaderId).httpAddr, "/metrics");
    expect(metrics.text).toMatch(/^qklzl_fault_tolerance 1$/m);
    const healthy = await runCli(["status", "--addr", cluster.node(leaderId).httpAddr]);
    expect(healthy.code, describeCli(["status"], healthy)).toBe(0);
    expect(healthy.stdout).not.toContain("warning");

    // A joined node said it was a learner first, then "joined as voter" once promoted.
    const log2 = readFileSync(cluster.node(2).logPath, "utf8");
    expect(log2).toMatch(/joined cluster .* as a learner/);
    expect(log2.indexOf("joined as voter")).toBeGreaterThan(log2.indexOf("as a learner"));

    const down = followers[0]!;
    const up = followers[1]!;
    await cluster.kill9(down);
    await waitFor(
      async () => {
        const s = await statusOf(cluster, leaderId);
        return s.fault_tolerance === 0 ? s : notYet({ fault_tolerance: s.fault_tolerance });
      },
      { deadlineMs: 10_000, what: `leader ${leaderId} to report fault_tolerance 0 with node ${down} down` },
    );
    await waitFor(
      async () => {
        const s = await statusOf(cluster, up);
        return s.fault_tolerance === 0 && s.fault_tolerance_source === "relayed" ? s : notYet({ ft: s.fault_tolerance, source: s.fault_tolerance_source });
      },
      { deadlineMs: 10_000, what: `follower ${up} to relay fault_tolerance 0` },
    );
    const args = ["status", "--addr", cluster.node(up).httpAddr];
    const warned = await runCli(args);
    expect(warned.stdout, describeCli(args, warned)).toContain("warning: fault tolerance 0");
    const metricsDown = await request(cluster.node(leaderId).httpAddr, "/metrics");
    expect(metricsDown.text).toMatch(/^qklzl_fault_tolerance 0$/m);

    // Stopping the leader now costs the quorum: it says so before it goes.
    await cluster.stop(leaderId);
    const log = readFileSync(cluster.node(leaderId).logPath, "utf8");
    expect(log).toMatch(new RegExp(`stopping node ${leaderId} costs the quorum`));
  });
}, timeout);

test("a learner not heard from for --learner-timeout-ms is reported in /status, /metrics and once in the log", async () => {
  const cluster = newCluster("ft-silent", [...fastFlags, "--learner-timeout-ms", "1500"]);
  await cluster.explain(async () => {
    await cluster.startFresh({ ids: [1] });
    // A learner whose raft address nobody listens on: added, never heard from, never promoted.
    const ghost = { id: 7, raft_addr: `127.0.0.1:${freePort()}`, http_addr: `127.0.0.1:${freePort()}` };
    const joined = await request(cluster.node(1).httpAddr, "/join", { json: ghost });
    check(joined.status === 200, `join of the silent learner: ${describeReply(joined)}`);
    const early = await statusOf(cluster, 1);
    expect(early.silent_learners).toEqual([]);
    const status = await waitFor(
      async () => {
        const s = await statusOf(cluster, 1);
        return (s.silent_learners ?? []).some((l) => l.id === 7) ? s : notYet(s.silent_learners);
      },
      { deadlineMs: 10_000, what: "node 1 to report learner 7 as silent" },
    );
    const entry = status.silent_learners!.find((l) => l.id === 7)!;
    expect(entry.silent_ms).toBeGreaterThanOrEqual(1500);
    const metrics = await request(cluster.node(1).httpAddr, "/metrics");
    expect(metrics.text).toMatch(/^qklzl_learners_silent 1$/m);
    expect(metrics.text).toMatch(/^qklzl_learner_silent_seconds\{id="7"\} \d/m);
    const args = ["status", "--addr", cluster.node(1).httpAddr];
    const cli = await runCli(args);
    expect(cli.stdout, describeCli(args, cli)).toContain("warning: learner 7 not heard from");
    // Logged once, however long it stays silent.
    await Bun.sleep(1_500);
    const log = readFileSync(cluster.node(1).logPath, "utf8");
    expect(log.match(/learner 7 not heard from/g)?.length).toBe(1);
  });
}, timeout);
