import { describe, expect, test } from "bun:test";
import { EtcdLockFailedError } from "etcd3";
import { fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { EtcdCluster, etcd3ClientsFor, followersOf } from "./etcd_support.ts";

// Issue 14 with issue 13's leases: the `etcd3` npm client (1.1.2, unchanged) against a 3-node cluster of the
// binary through followers: a lease's grant, its automatic keep-alives (the LeaseKeepAlive stream, forwarded
// to the leader), keepaliveOnce and revoke; a txn comparing on a key's lease (both branches); client.lock()
// (create-only txn + lease) and client.election() (campaign, observe, resign). Hosts are given without
// "http://" (BUN-NOTES §9).

const cluster = new EtcdCluster({ name: "etcd3-lease", extraArgs: fastFlags });
formedForThisFile(cluster, { timeoutMs: 60_000 });

const client = etcd3ClientsFor(cluster);
const followers = () => followersOf(cluster);

describe("etcd3 client leases, locks and elections on qklzl", () => {
  test("a lease kept alive by the client outlives its TTL; keepaliveOnce; revoke deletes its keys", async () => {
    const [f1, f2] = await followers();
    const etcd = client([f1!]);
    const reader = client([f2!]);
    const lease = etcd.lease(2); // 2 s: the client renews every TTL/3 over the LeaseKeepAlive stream
    const lost: unknown[] = [];
    lease.on("lost", (error) => lost.push(error));
    const renewed: string[] = [];
    lease.on("keepaliveSucceeded", (res) => renewed.push(String(res.TTL)));
    const id = await lease.grant();
    expect(Number(id)).toBeGreaterThan(0);
    await lease.put("alive/a").value("1");
    await Bun.sleep(4_000); // twice the TTL: only the keep-alives keep the key
    expect(lost).toEqual([]);
    expect(renewed.length).toBeGreaterThanOrEqual(2);
    expect(new Set(renewed)).toEqual(new Set(["2"]));
    expect(await reader.get("alive/a").string()).toBe("1");
    const once = await lease.keepaliveOnce();
    expect([once.ID, once.TTL]).toEqual([id, "2"]);
    await lease.revoke();
    expect(await reader.get("alive/a").string()).toBeNull();
  }, 30_000);

  test("a lease released by the client (no more keep-alives) expires and takes its keys", async () => {
    const [f1, f2] = await followers();
    const lease = client([f1!]).lease(1);
    await lease.grant();
    await lease.put("passive/a").value("1");
    lease.release();
    await waitFor(async () => ((await client([f2!]).get("passive/a").string()) === null ? true : null), { deadlineMs: 15_000, what: "the key to expire" });
  }, 30_000);

  test("a txn comparing on a key's lease through gRPC: both branches", async () => {
    const [f1] = await followers();
    const etcd = client([f1!]);
    const lease = etcd.lease(30);
    const id = await lease.grant();
    await lease.put("owned").value("mine");
    await etcd.put("unowned").value("free");
    const same = await etcd.if("owned", "Lease", "==", id).then(etcd.put("owned-check").value("yes")).else(etcd.put("owned-check").value("no")).commit();
    expect(same.succeeded).toBe(true);
    expect(await etcd.get("owned-check").string()).toBe("yes");
    const other = await etcd.if("unowned", "Lease", "==", id).then(etcd.put("unowned-check").value("yes")).else(etcd.get("unowned")).commit();
    expect(other.succeeded).toBe(false);
    expect(other.responses[0]!.response_range!.kvs[0]!.lease).toBe("0");
    expect(await etcd.get("unowned-check").string()).toBeNull();
    // A key with no lease compares as lease 0, as etcd does (an absent key too).
    expect((await etcd.if("unowned", "Lease", "==", 0).then(etcd.get("unowned")).commit()).succeeded).toBe(true);
    expect((await etcd.if("absent", "Lease", "==", 0).then(etcd.get("absent")).commit()).succeeded).toBe(true);
    await lease.revoke();
  });

  test("client.lock(): one holder at a time; a second acquire fails while held and succeeds once released", async () => {
    const [f1, f2] = await followers();
    const a = client([f1!]);
    const b = client([f2!]);
    const held = await a.lock("jobs/one").ttl(5).acquire();
    await expect(b.lock("jobs/one").ttl(5).acquire()).rejects.toBeInstanceOf(EtcdLockFailedError);
    await held.release();
    const order: string[] = [];
    // do(): acquire, run, release; the second runs only after the first released.
    await b.lock("jobs/one").ttl(5).do(async () => order.push("b"));
    await a.lock("jobs/one").ttl(5).do(async () => order.push("a"));
    expect(order).toEqual(["b", "a"]);
    expect(await a.get("jobs/one").string()).toBeNull();
  });

  test("client.election(): the first campaigner leads, observers follow, resign hands over to the next", async () => {
    const [f1, f2] = await followers();
    const one = client([f1!]).election("primary", 5);
    const two = client([f2!]).election("primary", 5);
    const first = one.campaign("node-a");
    await first.wait();
    expect(await two.leader()).toBe("node-a");
    const observer = await two.observe();
    const changes: string[] = [];
    observer.on("change", (leader: string | undefined) => changes.push(leader ?? "(none)"));
    const second = two.campaign("node-b");
    let secondElected = false;
    second.on("elected", () => {
      secondElected = true;
    });
    await Bun.sleep(1_000);
    expect(secondElected).toBe(false);
    await first.resign();
    await second.wait();
    expect(await one.leader()).toBe("node-b");
    await waitFor(async () => (changes.includes("node-b") ? true : null), { deadlineMs: 10_000, what: "the observer to see node-b" });
    await observer.cancel();
    await second.resign();
  }, 30_000);

  test("a lease kept alive through a follower survives the leader's kill -9: the keep-alives reach the new leader", async () => {
    const view = await cluster.waitForLeader({ deadlineMs: 15_000 });
    const [f1, f2] = [1, 2, 3].filter((id) => id !== view.leaderId);
    const etcd = client([f1!]);
    const lease = etcd.lease(4);
    const lost: unknown[] = [];
    lease.on("lost", (error) => lost.push(error));
    await lease.grant();
    await lease.put("survivor").value("1");
    await cluster.kill9(view.leaderId);
    const next = await cluster.waitForLeader({ among: [f1!, f2!], deadlineMs: 15_000 });
    expect(next.leaderId).not.toBe(view.leaderId);
    await Bun.sleep(9_000); // over twice the TTL after the kill: only the forwarded keep-alives keep the key
    expect(lost).toEqual([]);
    expect(await client([f2!]).get("survivor").string()).toBe("1");
    await lease.revoke();
    expect(await client([f2!]).get("survivor").string()).toBeNull();
    await cluster.restart(view.leaderId);
  }, 60_000);
});
