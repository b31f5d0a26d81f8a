// Randomized check of the WAL against a dumb model on the real disk: random saves (with tail overwrites), hard
// states, local snapshots with compaction, received snapshots, issued with and without awaiting, tiny segments,
// and reopens. The log must always agree with the model, and a reopen must give back exactly the state before it.
// The workload (model_workload.ts) is shared with the power-loss sweep (power_loss.test.ts).
import { afterAll, test } from "bun:test";
import * as fs from "node:fs";
import { runWorkload } from "./model_workload.ts";
import { tempDir } from "./helpers.ts";

const dirs: string[] = [];
afterAll(() => {
  if (!process.env.KEEP) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test("random operations agree with the model and survive reopens", async () => {
  const base = Number(process.env.STORAGE_SEED ?? Date.now() % 100000);
  // At least 3 seeds, more while the time budget lasts (the machine is shared).
  const deadline = Date.now() + 6_000;
  for (let i = 0; i < 12 && (i < 3 || Date.now() < deadline); i++) {
    const seed = base + i;
    const dir = tempDir("qklzl-model-");
    dirs.push(dir);
    try {
      await runWorkload({ seed, steps: 200, dir });
    } catch (error) {
      console.error(`model test failed with seed ${seed} (replay: STORAGE_SEED=${seed})`);
      throw error;
    }
  }
}, 60_000);
