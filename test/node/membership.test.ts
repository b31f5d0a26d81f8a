import { afterEach, describe, expect, test } from "bun:test";
import { isQklzlError } from "../../src/shared/errors.ts";
import { TestCluster, waitFor } from "./harness.ts";

let cluster: TestCluster;
afterEach(async () => {
  await cluster?.close();
});

describe("node: membership", () => {
  test("a 4th node joins through a follower under writes, is promoted, and a removed node stops itself", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    let writing = true;
    let acked = 0;
    const writer = (async () => {
      while (writing) {
        await cluster.node(1).api.write({ op: "put", key: `w${acked % 50}`, value: `${acked}` });
        acked++;
      }
    })();
    // Join through node 2 (a follower): the HTTP layer forwards to the leader.
    const node4 = await cluster.start(4, { join: cluster.node(2).httpAddr });
    await waitFor("node 4 is a voter", () => cluster.status(1).members.find((m) => m.id === 4)?.role === "voter", 15_000);
    writing = false;
    await writer;
    expect(acked).toBeGreaterThan(0);
    expect(await node4.api.read(`w${(acked - 1) % 50}`, "linearizable")).toEqual({ value: `${acked - 1}` });
    expect(node4.api.status().cluster_id).toBe(cluster.status(1).cluster_id);
    // A repeated join with the same id and addresses is a no-op.
    const again = await cluster.node(1).api.join({ id: 4, raftAddr: node4.raftAddr, httpAddr: node4.httpAddr });
    expect(again.members.length).toBe(4);

    // Remove node 3: it never gets the entry that removes it, finds out from the leader and stops itself.
    const node3 = cluster.node(3);
    await cluster.node(1).api.leave(3);
    expect(cluster.status(1).members.map((m) => m.id)).toEqual([1, 2, 4]);
    await Promise.race([node3.done, Bun.sleep(15_000).then(() => Promise.reject(new Error("node 3 did not stop")))]);
    cluster.nodes.delete(3);
    await cluster.node(1).api.write({ op: "put", key: "after", value: "leave" });
    expect(await cluster.node(4).api.read("after", "linearizable")).toEqual({ value: "leave" });
  }, 40_000);

  test("one change at a time: a second concurrent change is refused with change_in_progress", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    const api = cluster.node(1).api;
    const results = await Promise.allSettled([
      api.join({ id: 7, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" }),
      api.join({ id: 8, raftAddr: "127.0.0.1:3", httpAddr: "127.0.0.1:4" }),
    ]);
    expect(await api.leave(99).catch((e) => e.code)).toBe("unknown_member");
    expect(await api.transferLeader(99).catch((e) => e.code)).toBe("unknown_member");
    expect(await cluster.node(2).api.join({ id: 9, raftAddr: "127.0.0.1:5", httpAddr: "127.0.0.1:6" }).catch((e) => e.code)).toBe("not_leader");
    const codes = results.map((r) => (r.status === "fulfilled" ? "ok" : isQklzlError(r.reason) ? r.reason.code : String(r.reason)));
    expect(codes.sort()).toEqual(["change_in_progress", "ok"]);
    // Clean up the learner that cannot exist: removing it works.
    const added = codes[0] === "ok" ? 7 : 8;
    await waitFor("removal accepted", async () => {
      try {
        await api.leave(results[0]!.status === "fulfilled" ? 7 : 8);
        return true;
      } catch (error) {
        if (isQklzlError(error) && error.code === "change_in_progress") return false;
        throw error;
      }
    });
    expect(added).toBeGreaterThan(0);
    expect(cluster.status(1).members.map((m) => m.id)).toEqual([1, 2, 3]);
  }, 30_000);

  test("the leader leaving the cluster steps down and the rest elect a new leader", async () => {
    cluster = new TestCluster();
    await cluster.bootstrap(3);
    const node1 = cluster.node(1);
    await node1.api.leave(1);
    await Promise.race([node1.done, Bun.sleep(10_000).then(() => Promise.reject(new Error("node 1 did not stop")))]);
    cluster.nodes.delete(1);
    const leader = await cluster.waitLeader();
    expect(cluster.status(leader).members.map((m) => m.id)).toEqual([2, 3]);
    await cluster.node(leader).api.write({ op: "put", key: "k", value: "v" });
  }, 30_000);
});
