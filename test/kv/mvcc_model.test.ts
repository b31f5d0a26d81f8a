import { describe, expect, test } from "bun:test";
import { runSeed, steps } from "./mvcc_model_driver.ts";

/** See mvcc_model_driver.ts. MVCC_SEEDS=N runs N seeds (default 1000), MVCC_SEED=S replays one. */
const seeds = Number(process.env.MVCC_SEEDS ?? 1000);

describe("mvcc store against a naive model", () => {
  test(`${seeds} random seeds × ${steps} steps`, async () => {
    const only = process.env.MVCC_SEED;
    const list = only !== undefined ? [Number(only)] : Array.from({ length: seeds }, (_, i) => i + 1);
    for (const seed of list) {
      try {
        await runSeed(seed);
      } catch (error) {
        throw new Error(`seed ${seed} failed (replay: MVCC_SEED=${seed}): ${error instanceof Error ? `${error.message}\n${error.stack}` : JSON.stringify(error)}`);
      }
    }
    expect(list.length).toBeGreaterThan(0);
  });
});
