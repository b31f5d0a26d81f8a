// A small randomized shake-out of the core (the full simulator lives in test/sim): lossy, reordering,
// duplicating network, crashes that lose unpersisted state, proposals, conf-free. Checks safety only.
import { expect, test } from "bun:test";
import { createRand } from "../../src/raft/rand.ts";
import type { Message, Rand } from "../../src/raft/types.ts";
import { type Cluster, confOf, enc, newCluster } from "./harness.ts";

function shuffle<T>(rand: Rand, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rand.int(i + 1);
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

export const stats = { committed: 0, leaders: 0, runs: 0 };

function run(seed: number, n: number, faults = {}): string | null {
  const rand = createRand(seed);
  const c: Cluster = newCluster(n, seed, { faults });
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const leaderOfTerm = new Map<number, number>();
  const committed = new Map<number, string>(); // index → the one value applied there
  let k = 0;
  for (let step = 0; step < 400; step++) {
    const action = rand.int(10);
    if (action < 4) {
      for (const id of ids) c.core(id).tick();
    } else if (action < 6) {
      const leaders = c.leaders();
      for (const l of leaders) c.core(l).propose(enc(`s${seed}-${k++}`));
    } else if (action === 6 && rand.int(4) === 0) {
      c.restart(ids[rand.int(n)] as number); // re-applies its log from the start: checked again below
    } else if (action === 8 && rand.int(3) === 0) {
      // Compact a node's log up to what it applied (the node's snapshot); laggers then need a snapshot.
      const node = c.get(ids[rand.int(n)] as number);
      if (node.appliedIndex > node.storage.snapshotMeta().index) node.storage.compact(node.appliedIndex, confOf(ids));
    } else if (action === 9 && rand.int(3) === 0) {
      c.heal();
      if (rand.int(2) === 0) c.isolate(ids[rand.int(n)] as number);
    } else if (action === 7) {
      const leaders = c.leaders();
      for (const l of leaders) c.core(l).readIndex(`r${k++}`);
    }
    for (const node of c.nodes.values()) c.processReady(node);
    // Deliver a random subset of the queue in random order, dropping and duplicating some.
    const batch = shuffle(rand, c.queue);
    c.queue = [];
    const keep: Message[] = [];
    for (const m of batch) {
      const r = rand.int(20);
      if (r === 0) continue; // drop
      if (r < 4) keep.push(m); // delay
      else c.deliver(m);
      if (r === 19) c.deliver(m); // duplicate
    }
    c.queue.push(...keep);
    // Invariants.
    for (const id of ids) {
      const st = c.core(id).status();
      if (st.role === "leader") {
        const prev = leaderOfTerm.get(st.term);
        if (prev !== undefined && prev !== id) return `two leaders in term ${st.term}: ${prev} and ${id}`;
        leaderOfTerm.set(st.term, id);
      }
      for (const [index, value] of c.get(id).appliedAt) {
        const other = committed.get(index);
        if (other === undefined) committed.set(index, value);
        else if (other !== value) return `node ${id} applied ${value} at ${index}, another node ${other}`;
      }
    }
  }
  stats.committed += committed.size;
  stats.leaders += leaderOfTerm.size;
  stats.runs++;
  return null;
}

test("fuzz: 100 seeds × 3 and 5 nodes keep one leader per term and one applied sequence", () => {
  const failures: string[] = [];
  for (let seed = 1; seed <= 100; seed++) {
    for (const n of [3, 5]) {
      const err = run(seed, n);
      if (err) failures.push(`seed ${seed} n ${n}: ${err}`);
    }
  }
  expect(failures).toEqual([]);
  // The runs make progress (a fuzz that never commits proves nothing).
  expect(stats.committed / stats.runs).toBeGreaterThan(20);
  console.log(`fuzz: ${stats.runs} runs, ${(stats.committed / stats.runs).toFixed(1)} entries applied and ${(stats.leaders / stats.runs).toFixed(1)} leaders per run`);
});

test("fuzz can fail: voteWithoutLogCheck breaks the applied sequence within 150 seeds", () => {
  let caught = 0;
  for (let seed = 1; seed <= 150 && caught === 0; seed++) {
    if (run(seed, 5, { voteWithoutLogCheck: true })) caught++;
  }
  expect(caught).toBeGreaterThan(0);
});
