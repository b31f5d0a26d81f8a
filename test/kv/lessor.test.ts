import { describe, expect, test } from "bun:test";
import { decodeEntry, encodeRequest, KvStateMachine } from "../../src/kv/index.ts";
import type { Event, KvRequest, KvResponse } from "../../src/kv/index.ts";

/** next applies a request at the next index, through the log encoding (what replicas actually apply). */
function next(sm: KvStateMachine, request: KvRequest): KvResponse {
  const entry = decodeEntry(encodeRequest(request));
  return sm.applyRequest(sm.appliedIndex + 1, entry.request, entry.requestId, entry.legacy);
}

const grant = (id: number, ttl = 10): KvRequest => ({ kind: "lease_grant", lease_grant: { id, ttl } });
const revoke = (id: number): KvRequest => ({ kind: "lease_revoke", lease_revoke: { id } });
const put = (key: string, value: string, lease?: number): KvRequest => ({ kind: "put", put: lease === undefined ? { key, value } : { key, value, lease } });

async function image(sm: KvStateMachine): Promise<Uint8Array> {
  return (await sm.snapshot()).data;
}

describe("kv leases (the replicated lessor)", () => {
  test("grant, attach with a put, revoke: every attached key deleted in one revision, as one batch of delete events", () => {
    const sm = new KvStateMachine();
    const feed: { revision: number; events: Event[] }[] = [];
    sm.onEvents = (revision, events) => feed.push({ revision, events });
    expect(next(sm, grant(7, 30))).toEqual({ kind: "lease_grant", lease_grant: { id: 7, ttl: 30, revision: 1 } });
    next(sm, put("svc/b", "2", 7));
    next(sm, put("svc/a", "1", 7));
    next(sm, put("other", "x"));
    expect(sm.getKv("svc/a")?.lease).toBe(7);
    expect(sm.lease(7)).toEqual({ id: 7, ttl: 30, keys: ["svc/a", "svc/b"] });
    const before = sm.revision;
    feed.length = 0;
    expect(next(sm, revoke(7))).toEqual({ kind: "lease_revoke", lease_revoke: { revision: before + 1, deleted: 2 } });
    expect(sm.revision).toBe(before + 1);
    expect(sm.get("svc/a")).toBeUndefined();
    expect(sm.get("svc/b")).toBeUndefined();
    expect(sm.get("other")).toBe("x");
    expect(sm.lease(7)).toBeNull();
    expect(feed.length).toBe(1);
    expect(feed[0]!.revision).toBe(before + 1);
    expect(feed[0]!.events.map((e) => [e.type, e.kv.key, e.prev_kv?.lease])).toEqual([
      ["delete", "svc/a", 7],
      ["delete", "svc/b", 7],
    ]);
    // A revoked lease is gone: a second revoke and a put naming it are refused, and change nothing.
    const hash = sm.stats().hash;
    expect(next(sm, revoke(7))).toMatchObject({ kind: "error", error: { error: "lease_not_found" } });
    expect(next(sm, put("svc/a", "again", 7))).toMatchObject({ kind: "error", error: { error: "lease_not_found" } });
    expect(sm.get("svc/a")).toBeUndefined();
    expect(sm.stats().hash).toBe(hash);
  });

  test("a revoke of a lease without keys makes no revision; a grant of an existing id is refused", () => {
    const sm = new KvStateMachine();
    next(sm, grant(1));
    expect(next(sm, grant(1, 99))).toMatchObject({ kind: "error", error: { error: "lease_exists" } });
    expect(sm.lease(1)?.ttl).toBe(10);
    const revision = sm.revision;
    expect(next(sm, revoke(1))).toEqual({ kind: "lease_revoke", lease_revoke: { revision, deleted: 0 } });
    expect(sm.revision).toBe(revision);
  });

  test("a txn naming an unknown lease is refused as a whole, before it writes anything", () => {
    const sm = new KvStateMachine();
    next(sm, grant(2));
    const txn: KvRequest = {
      kind: "txn",
      txn: { compare: [], success: [{ put: { key: "a", value: "1", lease: 2 } }, { put: { key: "b", value: "1", lease: 3 } }], failure: [] },
    };
    expect(next(sm, txn)).toMatchObject({ kind: "error", error: { error: "lease_not_found", details: { id: 3 } } });
    expect(sm.get("a")).toBeUndefined();
    expect(sm.lease(2)?.keys).toEqual([]);
  });

  test("a key follows its newest put: another lease moves it, no lease or a delete detaches it, ignore_lease keeps it", () => {
    const sm = new KvStateMachine();
    next(sm, grant(1));
    next(sm, grant(2));
    next(sm, put("k", "1", 1));
    next(sm, put("k", "2", 2));
    expect([sm.lease(1)?.keys, sm.lease(2)?.keys]).toEqual([[], ["k"]]);
    next(sm, { kind: "put", put: { key: "k", value: "3", ignore_lease: true } });
    expect(sm.getKv("k")?.lease).toBe(2);
    expect(sm.lease(2)?.keys).toEqual(["k"]);
    next(sm, put("k", "4"));
    expect(sm.lease(2)?.keys).toEqual([]);
    next(sm, put("k", "5", 1));
    next(sm, { kind: "delete_range", delete_range: { key: "k" } });
    expect(sm.lease(1)?.keys).toEqual([]);
    // The key, written again without a lease, survives the revoke of its old lease.
    next(sm, put("k", "6"));
    next(sm, revoke(1));
    expect(sm.get("k")).toBe("6");
  });

  test("leases are in the snapshot and the hash: a restored replica revokes exactly the same keys", async () => {
    const sm = new KvStateMachine();
    for (let id = 1; id <= 50; id++) next(sm, grant(id, id + 5));
    for (let i = 0; i < 500; i++) next(sm, put(`key/${i}`, `v${i}`, 1 + (i % 50)));
    const restored = new KvStateMachine();
    await restored.restore(await image(sm));
    expect(restored.stats()).toEqual(sm.stats());
    expect(restored.leases()).toEqual(sm.leases());
    expect(restored.lease(17)).toEqual(sm.lease(17));
    const a = next(sm, revoke(17));
    const b = next(restored, revoke(17));
    expect(b).toEqual(a);
    expect(restored.stats()).toEqual(sm.stats());
    expect(restored.get("key/16")).toBeUndefined();
    // The lease table alone changes the hash (a replica that missed a grant is told apart).
    const other = new KvStateMachine();
    await other.restore(await image(sm));
    next(other, grant(999));
    expect(other.stats().hash).not.toBe(sm.stats().hash);
  });

  test("an image without leases is format 2, as before leases, and restores; with leases it carries them", async () => {
    const sm = new KvStateMachine();
    next(sm, put("a", "1"));
    const plain = await image(sm);
    next(sm, grant(5));
    const leased = await image(sm);
    const formatOf = (bytes: Uint8Array) => {
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      const length = view.getUint32(4);
      // The header map holds "format": N as a positive fixint right after the key.
      const text = Buffer.from(bytes.subarray(8, 8 + length));
      const at = text.indexOf("format");
      return text[at + 6];
    };
    expect([formatOf(plain), formatOf(leased)]).toEqual([2, 3]);
    const restored = new KvStateMachine();
    await restored.restore(plain);
    expect(restored.leases()).toEqual([]);
    await restored.restore(leased);
    expect(restored.leases()).toEqual([{ id: 5, ttl: 10 }]);
  });

  test("replicas applying the same entries agree on leases, keys and hash, whatever the interleaving of snapshots", async () => {
    const requests: KvRequest[] = [];
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const r = rand(10);
      if (r === 0) requests.push(grant(1 + rand(8), 5 + rand(10)));
      else if (r === 1) requests.push(revoke(1 + rand(8)));
      else if (r < 8) requests.push(put(`k${rand(40)}`, `v${i}`, rand(3) === 0 ? 0 : 1 + rand(8)));
      else requests.push({ kind: "delete_range", delete_range: { key: `k${rand(40)}` } });
    }
    const a = new KvStateMachine();
    let b = new KvStateMachine();
    for (let i = 0; i < requests.length; i++) {
      expect(next(b, requests[i]!)).toEqual(next(a, requests[i]!));
      if (i % 400 === 399) {
        const fresh = new KvStateMachine();
        await fresh.restore(await image(b));
        b = fresh;
      }
    }
    expect(b.stats()).toEqual(a.stats());
    expect(b.leases()).toEqual(a.leases());
    for (const { id } of a.leases()) expect(b.lease(id)).toEqual(a.lease(id));
    for (const { id } of a.leases()) for (const key of a.lease(id)!.keys) expect(a.getKv(key)?.lease).toBe(id);
  });
});
