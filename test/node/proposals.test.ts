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

  test("a truncation's lower index goes before the later waiters; the sweep still times out the older ones", async () => {
    const p = new Proposals(1_000);
    const five = p.wait(5, 1);
    const six = p.wait(6, 1);
    await Bun.sleep(5);
    // Leadership lost and regained: the log was cut at 4, and our new entry 4 has a later deadline than 5 and 6.
    const four = p.wait(4, 3);
    expect(p.size).toBe(3);
    p.sweep(performance.now() + 997); // past 5's and 6's deadlines (made 5 ms earlier), not 4's
    expect(await outcome(five)).toBe("timeout");
    expect(await outcome(six)).toBe("timeout");
    expect(p.size).toBe(1);
    p.applied(4, 3, hint);
    expect(await outcome(four)).toBe('ok {"index":4}');
    expect(p.size).toBe(0);
  });

  test("random waits, applies, truncations, sweeps and snapshots answer as a map of index to waiter does", async () => {
    // The reference is the obvious model (a Map by index); the queue must give every waiter the same outcome.
    for (let seed = 1; seed <= 40; seed++) {
      let state = seed;
      const rand = (n: number) => {
        state = (state * 1103515245 + 12345) & 0x7fffffff;
        return state % n;
      };
      const p = new Proposals(1_000);
      const model = new Map<number, { term: number; deadline: number; out: string | null }>();
      const results: Array<{ index: number; entry: { out: string | null }; promise: Promise<string> }> = [];
      let next = 1;
      let term = 1;
      let clock = performance.now();
      for (let step = 0; step < 400; step++) {
        const op = rand(10);
        if (op < 4) {
          if (rand(12) === 0 && next > 3) {
            term++;
            next -= 1 + rand(Math.min(next - 1, 5)); // a truncation: indexes are reused in a later term
          }
          const index = next++;
          const stale = model.get(index);
          if (stale !== undefined) {
            stale.out = "not_leader";
            model.delete(index);
          }
          const entry = { term, deadline: performance.now() + 1_000, out: null as string | null };
          model.set(index, entry);
          results.push({ index, entry, promise: outcome(p.wait(index, term)) });
        } else if (op < 8) {
          const index = 1 + rand(next + 1);
          const applyTerm = rand(4) === 0 ? term + 1 : term;
          const entry = model.get(index);
          if (entry !== undefined) {
            entry.out = entry.term === applyTerm ? `ok {"index":${index}}` : "not_leader";
            model.delete(index);
          }
          p.applied(index, applyTerm, hint);
        } else if (op < 9) {
          clock += rand(400);
          for (const [index, entry] of model) {
            if (entry.deadline <= clock) {
              entry.out = "timeout";
              model.delete(index);
            }
          }
          p.sweep(clock);
        } else {
          const upTo = rand(next);
          for (const [index, entry] of model) {
            if (index <= upTo) {
              entry.out = "timeout";
              model.delete(index);
            }
          }
          p.coveredBySnapshot(upTo);
        }
        expect(p.size).toBe(model.size);
      }
      const { QklzlError } = await import("../../src/shared/errors.ts");
      for (const entry of model.values()) entry.out = "shutting_down";
      p.failAll(new QklzlError("shutting_down", "bye"));
      for (const r of results) expect(`${r.index} ${await r.promise}`).toBe(`${r.index} ${r.entry.out}`);
    }
  });

  test("thousands of waiters settle in one sweep and one snapshot (the cleared prefix is released only after)", async () => {
    const p = new Proposals(1_000);
    const timedOut = Array.from({ length: 3_000 }, (_, i) => outcome(p.wait(i + 1, 1)));
    p.sweep(performance.now() + 2_000);
    expect(p.size).toBe(0);
    for (const result of timedOut) expect(await result).toBe("timeout");
    const covered = Array.from({ length: 3_000 }, (_, i) => outcome(p.wait(10_001 + i, 1)));
    const after = p.wait(20_000, 1);
    for (let i = 0; i < 1_500; i++) p.applied(10_001 + i, 1, hint); // head well past 1,024 before the snapshot
    p.coveredBySnapshot(15_000);
    expect(p.size).toBe(1);
    for (const [i, result] of covered.entries()) expect(await result).toBe(i < 1_500 ? `ok {"index":${10_001 + i}}` : "timeout");
    p.applied(20_000, 1, hint);
    expect(await outcome(after)).toBe('ok {"index":20000}');
  });
});
