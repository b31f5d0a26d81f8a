import { describe, expect, test } from "bun:test";
import { Proposals } from "../../src/node/proposals.ts";
import { isQklzlError } from "../../src/shared/errors.ts";

const hint = () => ({ leader_id: 2, leader_http_addr: "h:2" });

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    return `ok ${JSON.stringify(await promise)}`;
  } catch (error) {
    return isQklzlError(error) ? error.code : String(error);
  }
}

describe("proposal waiters", () => {
  test("resolve when the entry applies with the same term; reject as not applied when another term took the index", async () => {
    const p = new Proposals(1_000);
    const mine = p.wait(5, 3);
    const overwritten = p.wait(6, 3);
    p.applied(5, 3, hint);
    p.applied(6, 4, hint);
    p.applied(7, 4, hint); // nobody waits: nothing happens
    expect(await outcome(mine)).toBe('ok {"index":5}');
    const error = await overwritten.catch((e) => e);
    expect(error.code).toBe("not_leader");
    expect(error.details).toEqual({ leader_id: 2, leader_http_addr: "h:2" });
    expect(p.size).toBe(0);
    // The state machine's answer reaches the waiter (none above: those applied without one, as a conf change).
    const answered = p.wait(8, 4);
    p.applied(8, 4, hint, { kind: "put", put: { revision: 9 } });
    expect(await outcome(answered)).toBe('ok {"index":8,"response":{"kind":"put","put":{"revision":9}}}');
  });

  test("the deadline rejects with timeout and says the outcome is unknown; later ones stay", async () => {
    const p = new Proposals(50);
    const early = p.wait(1, 1);
    await Bun.sleep(30);
    const late = p.wait(2, 1);
    p.sweep(performance.now() + 25);
    const error = await early.catch((e) => e);
    expect(error.code).toBe("timeout");
    expect(error.message).toContain("unknown");
    expect(p.size).toBe(1);
    p.applied(2, 1, hint);
    expect(await outcome(late)).toBe('ok {"index":2}');
  });

  test("a snapshot covering waiting entries and a shutdown both settle every waiter", async () => {
    const p = new Proposals(1_000);
    const a = p.wait(3, 1);
    const b = p.wait(9, 1);
    p.coveredBySnapshot(5);
    expect(await outcome(a)).toBe("timeout");
    expect(p.size).toBe(1);
    const { QklzlError } = await import("../../src/shared/errors.ts");
    p.failAll(new QklzlError("shutting_down", "bye"));
    expect(await outcome(b)).toBe("shutting_down");
  });

  test("re-proposing an index in a later term fails the older waiter (its entry was truncated)", async () => {
    const p = new Proposals(1_000);
    const old = p.wait(4, 2);
    const fresh = p.wait(4, 5);
    expect(await outcome(old)).toBe("not_leader");
    p.applied(4, 5, hint);
    expect(await outcome(fresh)).toBe('ok {"index":4}');
  });

  test("losing leadership brings deadlines forward (outcome unknown sooner) but an apply still answers exactly", async () => {
    const p = new Proposals(10_000);
    const committedLater = p.wait(1, 1);
    const neverSeen = p.wait(2, 1);
    p.leadershipLost(30);
    p.applied(1, 1, hint); // the new leader committed our entry: exact answer
    expect(await outcome(committedLater)).toBe('ok {"index":1}');
    p.sweep(performance.now());
    expect(p.size).toBe(1);
    p.sweep(performance.now() + 31);
    const error = await neverSeen.catch((e) => e);
    expect(error.code).toBe("timeout");
    expect(error.message).toContain("lost the leadership");
    expect(error.message).toContain("unknown");
  });
});
