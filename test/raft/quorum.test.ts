import { describe, expect, test } from "bun:test";
import { Inflights } from "../../src/raft/inflights.ts";
import { Progress } from "../../src/raft/progress.ts";
import { committedIndex, hasQuorum, voteResult } from "../../src/raft/quorum.ts";
import { createRand } from "../../src/raft/rand.ts";

/** naiveCommitted: the largest index i such that a strict majority acked ≥ i (brute force). */
function naiveCommitted(acked: number[]): number {
  let best = 0;
  for (let i = 0; i <= Math.max(0, ...acked); i++) {
    if (acked.filter((a) => a >= i).length * 2 > acked.length) best = i;
  }
  return best;
}

function naiveVote(n: number, votes: Array<boolean | undefined>): "won" | "lost" | "pending" {
  const yes = votes.filter((v) => v === true).length;
  const undecided = votes.filter((v) => v === undefined).length;
  if (yes * 2 > n) return "won";
  if ((yes + undecided) * 2 <= n) return "lost";
  return "pending";
}

describe("quorum against a naive twin (seeded property test)", () => {
  test("committedIndex, voteResult and hasQuorum agree with brute force on 20,000 cases", () => {
    const rand = createRand(2026);
    for (let c = 0; c < 20_000; c++) {
      const n = 1 + rand.int(9);
      const voters = Array.from({ length: n }, (_, i) => i + 1);
      const acked = voters.map(() => rand.int(20));
      expect(committedIndex(voters, (id) => acked[id - 1] ?? -1)).toBe(naiveCommitted(acked));
      const votes = voters.map(() => [true, false, undefined][rand.int(3)]);
      const map = new Map<number, boolean>();
      voters.forEach((id, i) => {
        const v = votes[i];
        if (v !== undefined) map.set(id, v);
      });
      map.set(99, true); // a non-voter's vote never counts
      expect(voteResult(voters, map)).toBe(naiveVote(n, votes));
      const acks = new Set(voters.filter(() => rand.int(2) === 0));
      acks.add(99);
      expect(hasQuorum(voters, acks)).toBe((acks.size - 1) * 2 > n);
    }
  });

  test("createRand is deterministic per seed and spreads over [0, n)", () => {
    const a = createRand(7);
    const b = createRand(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const x = a.int(10);
      expect(b.int(10)).toBe(x);
      seen.add(x);
    }
    expect(seen.size).toBe(10);
    expect(createRand(8).int(1_000_000)).not.toBe(createRand(7).int(1_000_000));
  });
});

describe("progress and inflights", () => {
  test("inflights bound the window and free by acked index", () => {
    const w = new Inflights(3);
    w.add(2);
    w.add(5);
    w.add(9);
    expect(w.full()).toBe(true);
    expect(() => w.add(10)).toThrow();
    w.freeLE(5);
    expect(w.count()).toBe(1);
    w.freeLE(100);
    expect(w.count()).toBe(0);
  });

  test("probe pauses after one send; rejection backs off with the hint; replicate pipelines", () => {
    const p = new Progress(11, 2);
    p.sentEntries(15, 5);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeDecrTo(9, 3)).toBe(false); // stale: we did not probe at 9
    expect(p.maybeDecrTo(10, 3)).toBe(true);
    expect(p.next).toBe(4);
    expect(p.isPaused()).toBe(false);
    expect(p.maybeUpdate(6)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(7);
    p.sentEntries(8, 2);
    p.sentEntries(10, 2);
    expect(p.isPaused()).toBe(true);
    expect(p.next).toBe(11);
    p.maybeUpdate(8);
    p.inflights.freeLE(8);
    expect(p.isPaused()).toBe(false);
    expect(p.maybeDecrTo(12, 0)).toBe(true);
    expect(p.next).toBe(9);
    expect(() => {
      p.match = 20;
      p.maybeUpdate(3);
    }).toThrow(); // match < next is asserted
  });
});
