import { afterEach, describe, expect, test } from "bun:test";
import { decodeEntry, encodeCommand } from "../../src/kv/index.ts";
import { judgeMemberHashes } from "../../src/node/corruption_check.ts";
import { openStorage } from "../../src/storage/index.ts";
import { TestCluster, waitFor } from "./harness.ts";

// Issue 15, Guardrails: the periodic corruption check (--corrupt-check-interval). The divergence is planted the
// way a silent disk fault would leave it: one follower's WAL edited offline (a put's value changed, the entry's
// index, term and CRC still valid), so on restart that follower applies a value the others never wrote.

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const sample = (index: number, hash: string) => ({ index, revision: index, hash });

describe("judgeMemberHashes", () => {
  test("compares at the newest index every member holds; names the minority, else who differs from the leader", () => {
    const agree = judgeMemberHashes(1, [
      { id: 1, samples: [sample(16, "a"), sample(32, "b")] },
      { id: 2, samples: [sample(16, "a")] },
    ]);
    expect(agree).toEqual({ kind: "agree", index: 16, members: [1, 2] });
    const minority = judgeMemberHashes(1, [
      { id: 1, samples: [sample(32, "b")] },
      { id: 2, samples: [sample(32, "b")] },
      { id: 3, samples: [sample(32, "x")] },
    ]);
    expect(minority.kind === "diverged" && minority.suspects).toEqual([3]);
    // A majority against the leader names the leader.
    const leaderOdd = judgeMemberHashes(1, [
      { id: 1, samples: [sample(32, "x")] },
      { id: 2, samples: [sample(32, "b")] },
      { id: 3, samples: [sample(32, "b")] },
    ]);
    expect(leaderOdd.kind === "diverged" && leaderOdd.suspects).toEqual([1]);
    const two = judgeMemberHashes(1, [{ id: 1, samples: [sample(32, "a")] }, { id: 2, samples: [sample(32, "b")] }]);
    expect(two.kind === "diverged" && two.suspects).toEqual([2]);
    expect(judgeMemberHashes(1, [{ id: 1, samples: [sample(32, "a")] }, { id: 2, samples: [sample(48, "a")] }]).kind).toBe("no_common_index");
    // A member far behind (no index in common with the leader) is left for a later round; the rest are compared.
    const lagging = judgeMemberHashes(1, [
      { id: 1, samples: [sample(1024, "b")] },
      { id: 2, samples: [sample(1024, "x")] },
      { id: 3, samples: [sample(1024, "b")] },
      { id: 4, samples: [sample(16, "a")] },
    ]);
    expect(lagging.kind === "diverged" && lagging.suspects).toEqual([2]);
    expect(judgeMemberHashes(1, [{ id: 1, samples: [sample(32, "a")] }, { id: 2, samples: null }]).kind).toBe("no_common_index");
  });
});

describe("--corrupt-check-interval", () => {
  test("a follower whose store diverged is named by a CORRUPT alarm; writes are then refused 503 corrupt", async () => {
    cluster = new TestCluster();
    const options = { corruptCheckIntervalMs: 200 };
    await cluster.bootstrap(3, options);
    const leader = cluster.node(1);
    for (let i = 0; i < 40; i++) await leader.api.write({ op: "put", key: `k${i}`, value: `v${i}` });
    await waitFor("node 3 caught up", () => cluster!.status(3).applied_index === cluster!.status(1).applied_index);
    // Healthy members: several rounds pass without an alarm.
    await Bun.sleep(800);
    expect(leader.api.alarms!.list()).toEqual([]);

    await cluster.stop(3);
    const storage = await openStorage({ dir: cluster.dir(3), nodeId: 3 });
    let planted = "";
    try {
      const log = storage.log;
      const entries = log.entries(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
      const at = entries.findLastIndex((e) => e.kind === "normal" && decodeEntry(e.data).request.kind === "put");
      expect(at).toBeGreaterThanOrEqual(0);
      const target = entries[at]!;
      const put = decodeEntry((target as { data: Uint8Array }).data).request as { kind: "put"; put: { key: string } };
      planted = put.put.key;
      const edited = { ...target, data: encodeCommand({ op: "put", key: planted, value: "silently corrupted" }) };
      await log.save([edited, ...entries.slice(at + 1)], null);
    } finally {
      await storage.close();
    }
    await cluster.restart(3, options);
    await waitFor("node 3 serves the planted value", () => cluster!.node(3).api.readKv(planted, "stale").then((found) => found?.kv.value === "silently corrupted"));
    // More writes: the next sampling indexes come after the divergence (the alarm may stop them early).
    for (let i = 0; i < 40; i++) {
      const refusal = await leader.api.write({ op: "put", key: `later${i}`, value: "x" }).then(() => null, (error: { code?: string }) => error.code);
      if (refusal !== null) {
        expect(refusal).toBe("corrupt");
        break;
      }
    }
    await waitFor("CORRUPT raised for node 3", () => leader.api.alarms!.list().length > 0, 15_000);
    expect(leader.api.alarms!.list()).toEqual([{ member_id: 3, alarm: "CORRUPT" }]);
    const refused = await fetch(`http://${leader.httpAddr}/kv`, { method: "POST", body: JSON.stringify({ op: "put", key: "after", value: "1" }) });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toBe("corrupt");
    expect((await fetch(`http://${leader.httpAddr}/kv?key=k1`).then((r) => r.json())) as unknown).toMatchObject({ value: "v1" });
  }, 90_000);
});
