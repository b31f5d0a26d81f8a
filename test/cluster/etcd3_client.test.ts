import { describe, expect, test } from "bun:test";
import type { IKeyValue } from "etcd3";
import { fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";
import { EtcdCluster, etcd3ClientsFor, followersOf } from "./etcd_support.ts";

// Issue 14: the `etcd3` npm client (1.1.2, unchanged) against a 3-node cluster of the binary: KV (prefix,
// range, limit, sort, keys-only, count-only, revision filters, serializable, a past revision), txns, watch
// (live, replay from a revision, prev_kv), namespaces and STM (software transactional memory over Txn
// compares). Leases, lock and election are in test/cluster/etcd3_lease.test.ts. Hosts are given without "http://" (BUN-NOTES §9: Bun's
// HTTP/2 server resets streams whose :authority carries a scheme).

const cluster = new EtcdCluster({ name: "etcd3-client", extraArgs: fastFlags });
formedForThisFile(cluster, { timeoutMs: 60_000 });

const client = etcd3ClientsFor(cluster);
const followers = () => followersOf(cluster);

describe("etcd3 client on qklzl", () => {
  test("KV through followers: put/get, prefix, range, limit, sort, keys, count, a past revision, delete", async () => {
    const [f1, f2] = await followers();
    const writer = client([f1!]);
    const reader = client([f2!]);
    await writer.put("fruit/apple").value("3");
    await writer.put("fruit/banana").value("1");
    await writer.put("fruit/cherry").value("2");
    await writer.put("veg").value("x");
    expect(await reader.get("fruit/apple").string()).toBe("3");
    expect(await reader.get("missing").string()).toBeNull();
    expect(await reader.getAll().prefix("fruit/").strings()).toEqual({ "fruit/apple": "3", "fruit/banana": "1", "fruit/cherry": "2" });
    expect(await reader.getAll().prefix("fruit/").keys()).toEqual(["fruit/apple", "fruit/banana", "fruit/cherry"]);
    expect(await reader.getAll().prefix("fruit/").count()).toBe(3);
    expect(await reader.getAll().prefix("fruit/").sort("Value", "Descend").limit(2).strings()).toEqual({ "fruit/apple": "3", "fruit/cherry": "2" });
    expect(await reader.getAll().inRange({ start: "fruit/b", end: "fruit/d" }).keys()).toEqual(["fruit/banana", "fruit/cherry"]);
    const banana = await reader.get("fruit/banana").exec();
    const bananaRevision = Number(banana.kvs[0]!.mod_revision);
    expect(await reader.getAll().prefix("fruit/").minModRevision(bananaRevision).serializable(true).keys()).toEqual(["fruit/banana", "fruit/cherry"]);
    expect(await reader.getAll().prefix("fruit/").maxCreateRevision(bananaRevision).keys()).toEqual(["fruit/apple", "fruit/banana"]);
    const old = await reader.get("fruit/apple").exec();
    const oldRevision = old.header.revision;
    await writer.put("fruit/apple").value("4");
    expect(await reader.get("fruit/apple").revision(oldRevision).string()).toBe("3");
    expect(await reader.get("fruit/apple").string()).toBe("4");
    const deleted = await writer.delete().prefix("fruit/").getPrevious();
    expect(deleted.map((kv) => kv.key.toString()).sort()).toEqual(["fruit/apple", "fruit/banana", "fruit/cherry"]);
    expect(await reader.getAll().prefix("fruit/").count()).toBe(0);
  });

  test("txns: the compare picks the branch; the failed branch changes nothing", async () => {
    const etcd = client();
    await etcd.put("lock-free").value("v1");
    const won = await etcd.if("lock-free", "Value", "==", "v1").then(etcd.put("lock-free").value("v2")).else(etcd.put("lost").value("yes")).commit();
    expect(won.succeeded).toBe(true);
    const lost = await etcd.if("lock-free", "Value", "==", "v1").then(etcd.put("lock-free").value("v3")).else(etcd.get("lock-free")).commit();
    expect(lost.succeeded).toBe(false);
    expect(lost.responses[0]!.response_range!.kvs[0]!.value.toString()).toBe("v2");
    expect(await etcd.get("lost").string()).toBeNull();
    const created = await etcd.if("fresh", "Create", "==", 0).then(etcd.put("fresh").value("1")).commit();
    expect(created.succeeded).toBe(true);
    expect((await etcd.if("fresh", "Create", "==", 0).then(etcd.put("fresh").value("2")).commit()).succeeded).toBe(false);
  });

  test("watch: live events with prev_kv through a follower, then a replay from a revision", async () => {
    const [f1] = await followers();
    const etcd = client();
    const seen: string[] = [];
    const watcher = await client([f1!]).watch().prefix("w/").withPreviousKV().create();
    watcher.on("put", (kv: IKeyValue, prev?: IKeyValue) => seen.push(`put ${kv.key} ${kv.value} ${prev?.value ?? "-"}`));
    watcher.on("delete", (kv: IKeyValue, prev?: IKeyValue) => seen.push(`delete ${kv.key} ${prev?.value ?? "-"}`));
    const first = await etcd.put("w/a").value("1").exec();
    await etcd.put("w/a").value("2");
    await etcd.delete().key("w/a");
    await waitFor(async () => (seen.length >= 3 ? true : null), { deadlineMs: 10_000, what: "three watch events" });
    await watcher.cancel();
    expect(seen).toEqual(["put w/a 1 -", "put w/a 2 1", "delete w/a 2"]);

    const replayed: string[] = [];
    const replay = etcd.watch().key("w/a").startRevision(first.header.revision).watcher();
    replay.on("put", (kv: IKeyValue) => replayed.push(`put ${kv.value}`));
    replay.on("delete", () => replayed.push("delete"));
    await waitFor(async () => (replayed.length >= 3 ? true : null), { deadlineMs: 10_000, what: "the replay" });
    await replay.cancel();
    expect(replayed).toEqual(["put 1", "put 2", "delete"]);
  });

  test("namespaces: keys are prefixed on the wire and invisible outside", async () => {
    const etcd = client();
    const tenant = etcd.namespace("tenant-a/");
    await tenant.put("config").value("on");
    expect(await tenant.get("config").string()).toBe("on");
    expect(await etcd.get("tenant-a/config").string()).toBe("on");
    expect(await tenant.getAll().keys()).toEqual(["config"]);
    expect(await etcd.namespace("tenant-b/").get("config").string()).toBeNull();
    await tenant.delete().all();
    expect(await etcd.get("tenant-a/config").string()).toBeNull();
  });

  test("STM: concurrent read-modify-write transactions on one counter lose no increment", async () => {
    const etcd = client();
    await etcd.put("counter").value("0");
    const increment = () =>
      etcd.stm({ retries: 50 }).transact(async (tx) => {
        const value = Number(await tx.get("counter").string());
        await tx.put("counter").value(String(value + 1));
      });
    await Promise.all(Array.from({ length: 10 }, increment));
    expect(await etcd.get("counter").string()).toBe("10");
  });
});
