// "The checker can fail": each test plants one deliberately wrong rule (config.faults in the core, or a
// bug in the harness's own disk) and asserts the simulator reports a violation within a bounded number
// of seeds; the same seed without the plant runs clean, so the plant is what the checker caught.
import { describe, expect, test } from "bun:test";
import type { TestFaults } from "../../src/raft/types.ts";
import { SimViolation } from "./checker.ts";
import { configNamed } from "./configs.ts";
import { checkOneLeader, labCluster, one } from "./lab.ts";
import { type RunOptions, runSeed } from "./run.ts";

/** firstViolation runs seeds 1..seedsMax of a config and returns the first safety violation found. */
function firstViolation(configName: string, seedsMax: number, options: RunOptions): { seed: number; failure: string } | null {
  const config = configNamed(configName);
  for (let seed = 1; seed <= seedsMax; seed++) {
    const result = runSeed(config, seed, options);
    if (result.kind === "safety") return { seed, failure: result.failure ?? "" };
  }
  return null;
}

function expectCaught(configName: string, seedsMax: number, options: RunOptions, pattern: RegExp): void {
  const found = firstViolation(configName, seedsMax, options);
  expect(found).not.toBeNull();
  if (!found) return;
  console.log(`caught after ${found.seed} seed(s) of ${configName}: ${found.failure}`);
  expect(found.failure).toMatch(pattern);
  // Control: the same seed without the plant is clean.
  expect(runSeed(configNamed(configName), found.seed).failure).toBeNull();
}

describe("sim: the checker catches planted bugs", () => {
  test("voteWithoutLogCheck (§3.6.1 election restriction) → committed entries diverge", () => {
    expectCaught("three-nodes-partitions", 40, { faults: { voteWithoutLogCheck: true } }, /state machine safety|log matching|overwrites committed|leader completeness/);
  });

  test("readIndexWithoutQuorum (leadership not confirmed) → a stale read", () => {
    // Without check-quorum a deposed leader keeps answering reads from its old commit index.
    expectCaught("three-nodes-no-prevote", 60, { faults: { readIndexWithoutQuorum: true } }, /stale read/);
  });

  test("harness plant: a crash loses the durable vote → the node votes twice in one term", () => {
    expectCaught("figure-8", 40, { plantForgetVote: true }, /voted twice|vote changed/);
  });

  test("harness plant: one replica's store skips a revision bump → revisions differ at one applied index", () => {
    expectCaught("three-nodes-partitions", 20, { plantSkipRevision: true }, /store revision/);
  });

  test("commitPreviousTermByCount (Figure 8, §3.6.2) → an applied entry is overwritten", () => {
    const seedsMax = 10;
    let caughtAt = 0;
    for (let seed = 1; seed <= seedsMax && caughtAt === 0; seed++) {
      if (figure8Schedule(seed, { commitPreviousTermByCount: true }) !== null) caughtAt = seed;
    }
    console.log(`Figure 8 schedule caught commitPreviousTermByCount after ${caughtAt} seed(s)`);
    expect(caughtAt).toBeGreaterThan(0);
    // Control: the correct rule survives the same schedule on every seed.
    for (let seed = 1; seed <= seedsMax; seed++) expect(figure8Schedule(seed, {})).toBeNull();
  });
});

/**
 * figure8Schedule steers a 3-node cluster through the paper's Figure 8 (one entry per append, no
 * pipelining) and returns the violation the checker reports, or null:
 * (a) s1 leads and takes entry x that nobody else gets; (b) s2 wins the next term with s3's vote,
 * but its first entry never leaves it; (c) s1 wins a later term and replicates x to s3, then is cut
 * off as soon as it commits x; (d) s2 returns, wins with s3's vote and replaces x with its own entry.
 * With the correct rule s1 cannot commit x before its own-term entry is on s3, and (d) cannot happen.
 */
function figure8Schedule(seed: number, faults: TestFaults): string | null {
  const c = labCluster(3, { seed, core: { maxEntriesPerMessage: 1, maxInflight: 1, faults } });
  try {
    one(c, "base", 3);
    const s1 = checkOneLeader(c);
    // (a)
    c.disconnect(s1);
    const x = c.propose(s1, "x");
    if (!x.ok) throw new Error("s1 refused x");
    c.run(3);
    // (b)
    const winner = () => c.ids().find((id) => id !== s1 && c.node(id).core?.role === "leader") ?? 0;
    if (!c.runUntil(() => winner() !== 0, 60 * 10)) throw new Error("no leader in (b)");
    const s2 = winner();
    c.disconnect(s2);
    const s3 = c.ids().find((id) => id !== s1 && id !== s2) ?? 0;
    // (c)
    c.connect(s1);
    const committedX = () => (c.node(s1).core?.log.committed ?? 0) >= x.index;
    if (!c.runUntil(committedX, 60 * 10)) return null;
    c.disconnect(s1);
    c.run(5);
    // (d)
    c.connect(s2);
    c.runUntil(() => c.node(s3).applied >= x.index + 1, 60 * 10);
    for (const id of c.ids()) c.connect(id);
    one(c, "after", 3);
    return null;
  } catch (error) {
    if (error instanceof SimViolation) return error.message;
    throw error;
  }
}
