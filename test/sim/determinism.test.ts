// A seed is a complete description of a run: replaying it gives the same run, event for event.
import { expect, test } from "bun:test";
import { configs } from "./configs.ts";
import { SimRng } from "./rng.ts";
import { runSeed } from "./run.ts";

test("replaying a seed reproduces the run exactly (every configuration)", () => {
  for (const config of configs) {
    const first = runSeed(config, 4242, { trace: true });
    const again = runSeed(config, 4242, { trace: true });
    expect(again.ticks).toBe(first.ticks);
    expect(again.stats).toEqual(first.stats);
    expect(again.committedIndex).toBe(first.committedIndex);
    expect(again.trace).toEqual(first.trace);
    // A different seed is a different run.
    expect(runSeed(config, 4243, { trace: true }).trace).not.toEqual(first.trace);
  }
});

test("SimRng: seeded, uniform enough, bounded", () => {
  const a = new SimRng(7);
  const b = new SimRng(7);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) {
    const x = a.int(4);
    expect(x).toBe(b.int(4));
    counts[x] = (counts[x] ?? 0) + 1;
  }
  for (const n of counts) expect(n).toBeGreaterThan(850);
  for (let i = 0; i < 1000; i++) {
    const v = a.between(3, 5);
    expect(v >= 3 && v <= 5).toBe(true);
  }
  expect(new SimRng(8).int(1_000_000)).not.toBe(new SimRng(7).int(1_000_000));
});
