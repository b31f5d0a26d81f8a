import { expect, test } from "bun:test";
import { check, Cluster, fastFlags, nodeCommand, request, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { Keeper, LeaseClient, Watcher } from "./lease_support.ts";

// Leases against three processes of the binary (heartbeat 50 ms, election timeout 500 ms, so the minimum TTL
// is 1 s), checked by lease_support.ts's rule: no key gone before its TTL from the last acknowledged keepalive.

const cluster = new Cluster({ name: "it-lease", extraArgs: fastFlags });
const timeout = 120_000;
const ttl = 3;
/** late_ms_max: how much longer than its TTL a lease may live: a failover (~2 election timeouts) and load. */
const late_ms_max = 2500;
const leases = new LeaseClient(cluster, ttl, late_ms_max);

formedForThisFile(cluster, { timeoutMs: timeout });

function addr(id: number): string {
  return cluster.node(id).httpAddr;
}

const grant = (seconds: number) => leases.grant(seconds);
const putWithLease = (key: string, lease: number) => leases.putWithLease(key, lease);
const checkExpiry = (what: string, goneAt: number, lastAckedSentAt: number) => leases.checkExpiry(what, goneAt, lastAckedSentAt);

async function replicasAgree(): Promise<void> {
  await cluster.waitConverged(cluster.running(), 20_000);
}

test("the lease API through a follower: grant, keepalive, ttl with keys, list, revoke deletes the keys, stable errors", async () => {
  await cluster.explain(async () => {
    const view = await cluster.waitForLeader({ among: cluster.running() });
    const follower = cluster.running().find((id) => id !== view.leaderId)!;
    const granted = await request(addr(follower), "/lease/grant", { method: "POST", json: { ttl: 0.5 } });
    expect(granted.status).toBe(400);
    const small = await request(addr(follower), "/lease/grant", { method: "POST", json: { ttl: 1 } });
    expect(small.status).toBe(200);
    const g = await request(addr(follower), "/lease/grant", { method: "POST", json: { ttl: 60, id: 4242 } });
    expect([g.status, g.json]).toEqual([200, { id: 4242, ttl: 60 }]);
    expect((await request(addr(follower), "/lease/grant", { method: "POST", json: { ttl: 60, id: 4242 } })).json).toMatchObject({ error: "lease_exists" });
    await putWithLease("api/a", 4242);
    await putWithLease("api/b", 4242);
    expect((await request(addr(follower), "/kv?forward=true", { method: "POST", json: { op: "put", key: "api/c", value: "v", lease: 999 } })).json).toMatchObject({
      error: "lease_not_found",
    });
    expect((await request(addr(follower), "/lease/keepalive", { method: "POST", json: { id: 4242 } })).json).toEqual({ id: 4242, ttl: 60 });
    const ttlReply = await request(addr(follower), "/lease/4242?keys=true");
    expect(ttlReply.json).toMatchObject({ id: 4242, granted_ttl: 60, keys: ["api/a", "api/b"] });
    expect((ttlReply.json as { ttl: number }).ttl).toBeGreaterThanOrEqual(58);
    const list = (await request(addr(follower), "/leases")).json as { leases: { id: number }[] };
    expect(list.leases.map((l) => l.id)).toContain(4242);
    const revoked = await request(addr(follower), "/lease/revoke", { method: "POST", json: { id: 4242 } });
    expect(revoked.json).toMatchObject({ ok: true, deleted: 2 });
    expect((await request(addr(follower), "/kv?key=api/a")).status).toBe(404);
    expect((await request(addr(follower), "/lease/4242")).json).toMatchObject({ error: "lease_not_found" });
    expect((await request(addr(follower), "/lease/keepalive", { method: "POST", json: { id: 4242 } })).json).toMatchObject({ error: "lease_not_found" });
    expect((await request(addr(follower), "/lease/abc")).json).toMatchObject({ error: "bad_request" });
    await replicasAgree();
  });
}, timeout);

/** qklzl runs the CLI (the same binary as the nodes) and returns its exit code and output. */
async function qklzl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([...(await nodeCommand()), ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

test("the lease CLI: grant, ttl --keys, list, keep-alive --once, revoke; an unknown lease exits 1 with lease_not_found", async () => {
  await cluster.explain(async () => {
    const view = await cluster.waitForLeader({ among: cluster.running() });
    const follower = cluster.running().find((id) => id !== view.leaderId)!;
    const at = ["--addr", addr(follower)];
    const granted = await qklzl("lease", "grant", "60", ...at);
    expect([granted.code, granted.err]).toEqual([0, ""]);
    const id = Number(/lease (\d+) granted with TTL 60s/.exec(granted.out)?.[1]);
    check(Number.isSafeInteger(id) && id > 0, `lease grant printed ${JSON.stringify(granted.out)}`);
    await putWithLease("cli/a", id);
    const ttlOut = await qklzl("lease", "ttl", String(id), "--keys", ...at);
    expect(ttlOut.out).toMatch(new RegExp(`^lease ${id} granted with TTL 60s, remaining 5\\ds\ncli/a\n$`));
    // The table pads ids to the widest one listed (other tests leave leases of their own): any run of spaces.
    expect((await qklzl("lease", "list", ...at)).out).toMatch(new RegExp(`(^|\n)${id} +60s`));
    expect((await qklzl("lease", "keep-alive", String(id), "--once", ...at)).out).toBe(`lease ${id} kept alive with TTL 60s\n`);
    expect((await qklzl("lease", "revoke", String(id), ...at)).out).toMatch(new RegExp(`^lease ${id} revoked: 1 key\\(s\\) deleted at revision \\d+\n$`));
    const gone = await qklzl("lease", "keep-alive", String(id), ...at);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain("lease_not_found");
    expect((await qklzl("lease", "grant", ...at)).code).toBe(2);
  });
}, timeout);

test("kill -9 of the leader: no lease expires before its TTL from the last acknowledged keepalive; the replicas agree", async () => {
  await cluster.explain(async () => {
    const view = await cluster.waitForLeader({ among: cluster.running() });
    const kept = await grant(ttl);
    await putWithLease("kill/kept/1", kept.id);
    await putWithLease("kill/kept/2", kept.id);
    const keeper = new Keeper(leases, kept.id, kept.sentAt);
    const watcher = new Watcher(leases, ["kill/kept/1", "kill/kept/2", "kill/idle"]);
    try {
      // Kept alive for longer than its TTL first: a new leader that went by the grant's time would expire it.
      await Bun.sleep(2 * ttl * 1000);
      const idle = await grant(ttl);
      await putWithLease("kill/idle", idle.id);
      await cluster.kill9(view.leaderId);
      const after = await cluster.waitForLeader({ among: cluster.running(), deadlineMs: 20_000 });
      check(after.leaderId !== view.leaderId, "a new leader");
      // The lease nobody keeps alive expires on the new leader: not before its TTL from its grant.
      checkExpiry("the idle lease", await watcher.waitGone("kill/idle", 15_000), idle.sentAt);
      // The kept one lives on across the failover while keepalives are acknowledged...
      await Bun.sleep(2 * ttl * 1000);
      check(!watcher.goneAt.has("kill/kept/1"), `the kept-alive lease's key vanished (keepalives refused as lease_not_found: ${keeper.notFound})`);
      await keeper.stop();
      // ...and expires once they stop, both keys together.
      checkExpiry("the kept lease", await watcher.waitGone("kill/kept/1", 15_000), keeper.lastAckedSentAt);
      checkExpiry("the kept lease (second key)", await watcher.waitGone("kill/kept/2", 5000), keeper.lastAckedSentAt);
      expect(keeper.notFound).toBe(0);
    } finally {
      await keeper.stop();
      await watcher.stop();
      // Back to three nodes whatever happened, so the next test has its quorum.
      if (!cluster.isRunning(view.leaderId)) await cluster.restart(view.leaderId);
      await cluster.waitHttp(view.leaderId);
    }
    await replicasAgree();
  });
}, timeout);

test("SIGSTOP of the leader for longer than a TTL: kept leases survive, idle ones expire on time, the old leader revokes nothing", async () => {
  await cluster.explain(async () => {
    const view = await cluster.waitForLeader({ among: cluster.running() });
    const kept = await grant(ttl);
    await putWithLease("stop/kept", kept.id);
    const keeper = new Keeper(leases, kept.id, kept.sentAt);
    const watcher = new Watcher(leases, ["stop/kept", "stop/idle"]);
    try {
      await Bun.sleep(2 * ttl * 1000); // kept alive for longer than its TTL before the pause (see the kill -9 test)
      const idle = await grant(ttl);
      await putWithLease("stop/idle", idle.id);
      cluster.pause(view.leaderId);
      let resumed = false;
      try {
        await waitFor(async () => (await cluster.waitForLeader({ among: cluster.running().filter((id) => id !== view.leaderId) })).leaderId !== view.leaderId, {
          deadlineMs: 20_000,
          what: "a new leader while the old one is stopped",
        });
        checkExpiry("the idle lease", await watcher.waitGone("stop/idle", 15_000), idle.sentAt);
        await Bun.sleep(ttl * 1000 + 1000); // the stop lasts longer than a TTL in all
        cluster.resume(view.leaderId);
        resumed = true;
        // Resumed, the old leader's clock has run past every expiry it knew: it must not revoke the kept lease.
        await Bun.sleep(2 * ttl * 1000);
        check(!watcher.goneAt.has("stop/kept"), `the kept-alive lease's key vanished around the pause (lease_not_found answers: ${keeper.notFound})`);
      } finally {
        if (!resumed) cluster.resume(view.leaderId);
      }
      await keeper.stop();
      checkExpiry("the kept lease", await watcher.waitGone("stop/kept", 15_000), keeper.lastAckedSentAt);
      expect(keeper.notFound).toBe(0);
    } finally {
      await keeper.stop();
      await watcher.stop();
    }
    await replicasAgree();
  });
}, timeout);
