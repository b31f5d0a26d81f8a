import { describe, expect, test } from "bun:test";
import { consola } from "consola";
import { decodeEntry, KvStateMachine } from "../../src/kv/index.ts";
import { LeaseKeeper } from "../../src/node/lease_keeper.ts";
import type { SoftState } from "../../src/raft/soft_state.ts";
import { QklzlError } from "../../src/shared/errors.ts";

/**
 * A LeaseKeeper on a real state machine with a hand-driven clock and role: proposals are applied at once (as a
 * one-node log would), and every proposed entry is recorded so the test sees what the leader asked for.
 */
function rig(electionMs = 500) {
  const kv = new KvStateMachine();
  let clock = 0;
  let soft = { role: "follower", leaderId: 2, term: 1 } as unknown as SoftState;
  const proposed: unknown[] = [];
  const keeper = new LeaseKeeper({
    electionMs,
    kv,
    logger: consola.withTag("test"),
    softState: () => soft,
    now: () => clock,
    async propose(data) {
      const entry = decodeEntry(data);
      proposed.push(entry.request);
      const index = kv.appliedIndex + 1;
      return { index, response: kv.applyRequest(index, entry.request, entry.requestId) };
    },
    async confirmLeader() {
      if (soft.role !== "leader") throw new QklzlError("not_leader", "not the leader");
    },
    notLeaderError: () => new QklzlError("not_leader", "not the leader"),
  });
  return {
    kv,
    keeper,
    proposed,
    revokes: () => proposed.filter((r) => (r as { kind: string }).kind === "lease_revoke"),
    lead(term: number) {
      soft = { role: "leader", leaderId: 1, term } as unknown as SoftState;
    },
    follow(term: number) {
      soft = { role: "follower", leaderId: 2, term } as unknown as SoftState;
    },
    advance(ms: number) {
      clock += ms;
      keeper.tick(clock);
    },
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("lease keeper (the leader's expiry clock)", () => {
  test("a follower never expires a lease on its own clock, however long it waits", async () => {
    const r = rig();
    r.kv.applyRequest(1, { kind: "lease_grant", lease_grant: { id: 7, ttl: 2 } });
    r.advance(100_000);
    r.advance(100_000);
    await settle();
    expect(r.revokes()).toEqual([]);
    expect(r.kv.lease(7)).not.toBeNull();
  });

  test("the leader expires a lease TTL after it last saw it renewed, through a revoke entry, and keepalives move that", async () => {
    const r = rig();
    r.lead(2);
    const granted = await r.keeper.grant(2, 7);
    expect(granted).toEqual({ id: 7, ttl: 2 });
    r.kv.applyRequest(r.kv.appliedIndex + 1, { kind: "put", put: { key: "k", value: "v", lease: 7 } });
    r.advance(1500);
    expect(await r.keeper.keepAlive(7)).toEqual({ id: 7, ttl: 2 });
    r.advance(1900); // 3.4 s after the grant, 1.9 s after the keepalive
    await settle();
    expect(r.revokes()).toEqual([]);
    expect((await r.keeper.timeToLive(7, true))).toEqual({ id: 7, ttl: 0, remaining_ms: 100, granted_ttl: 2, keys: ["k"] });
    r.advance(100);
    await settle();
    expect(r.revokes()).toEqual([{ kind: "lease_revoke", lease_revoke: { id: 7 } }]);
    expect(r.kv.get("k")).toBeUndefined();
    expect(r.keeper.metricLines()).toContain("qklzl_leases_expired_total 1");
    expect(r.keeper.metricLines()).toContain("qklzl_leases 0");
    await expect(r.keeper.keepAlive(7)).rejects.toMatchObject({ code: "lease_not_found" });
  });

  test("a keepalive after the TTL ran out is lease_not_found even before the revoke applied", async () => {
    const r = rig();
    r.lead(2);
    await r.keeper.grant(2, 9);
    let release!: () => void;
    // Hold the revoke back: the clock has passed the expiry, the lease is still in the state.
    const gate = new Promise<void>((resolve) => (release = resolve));
    const keeperPropose = r.keeper as unknown as { context: { propose: (d: Uint8Array) => Promise<unknown> } };
    const original = keeperPropose.context.propose;
    keeperPropose.context.propose = async (data) => {
      await gate;
      return original(data);
    };
    r.advance(2000);
    expect(r.kv.lease(9)).not.toBeNull();
    await expect(r.keeper.keepAlive(9)).rejects.toMatchObject({ code: "lease_not_found" });
    release();
    await settle();
    await settle();
    expect(r.kv.lease(9)).toBeNull();
  });

  test("a new leader gives every lease its full TTL again, even one whose time had run out on the old clock", async () => {
    const r = rig();
    r.lead(2);
    await r.keeper.grant(2, 1);
    await r.keeper.grant(5, 2);
    r.follow(3); // leadership lost: the clock is dropped
    r.advance(60_000);
    r.lead(4);
    r.advance(1);
    await settle();
    expect(r.revokes()).toEqual([]);
    r.advance(1999); // TTLs count from the first tick as leader (60001)
    await settle();
    expect(r.revokes()).toEqual([]);
    r.advance(1);
    await settle();
    expect(r.revokes()).toEqual([{ kind: "lease_revoke", lease_revoke: { id: 1 } }]);
    r.advance(3000);
    await settle();
    expect(r.revokes().length).toBe(2);
  });

  test("TTLs below the minimum (2 x election timeout) are raised; over the maximum, bad ids and taken ids are refused", async () => {
    const r = rig(1500);
    r.lead(2);
    await expect(r.keeper.minTtl).toBe(3);
    expect(await r.keeper.grant(1, 5)).toEqual({ id: 5, ttl: 3 });
    expect(r.kv.lease(5)?.ttl).toBe(3);
    await expect(r.keeper.grant(1, 5)).rejects.toMatchObject({ code: "lease_exists" });
    await expect(r.keeper.grant(10 ** 9, undefined)).rejects.toMatchObject({ code: "bad_request" });
    await expect(r.keeper.grant(1.5, undefined)).rejects.toMatchObject({ code: "bad_request" });
    const chosen = await r.keeper.grant(10, undefined);
    expect(Number.isSafeInteger(chosen.id) && chosen.id > 0 && chosen.id < 2 ** 52).toBe(true);
    expect(r.kv.lease(chosen.id)?.ttl).toBe(10);
  });
});
