// The random-seed sweep: at least 2,000 seeds across every configuration on each `npm test`, split between the
// two drivers (even seeds follow the Ready contract as written, odd ones drive the core like src/node/runtime.ts).
// The base seed is random unless SIM_SEED is set (it is printed); each failure names the command replaying it.
import { describe, expect, test } from "bun:test";
import { configs } from "./configs.ts";
import { driverForSeed } from "./cluster.ts";
import { replayCommand, runSeed } from "./run.ts";

const SEEDS_TOTAL = Number(process.env.SIM_SEEDS ?? 2000);
const BASE_SEED = process.env.SIM_SEED ? Number(process.env.SIM_SEED) : Math.floor(Math.random() * 1_000_000_000);
const perConfig = Math.ceil(SEEDS_TOTAL / configs.length);

describe(`sim sweep: ${perConfig * configs.length} seeds from ${BASE_SEED} (SIM_SEED=${BASE_SEED} replays this sweep)`, () => {
  for (const [k, config] of configs.entries()) {
    test(`${config.name}: ${perConfig} seeds`, () => {
      const failures: string[] = [];
      let committed = 0;
      let leaderTerms = 0;
      for (let i = 0; i < perConfig; i++) {
        const seed = BASE_SEED + k * perConfig + i;
        const driver = driverForSeed(seed);
        const result = runSeed(config, seed, { driver });
        committed += result.committedIndex;
        leaderTerms += result.leaderTerms;
        if (!result.ok) failures.push(`FAIL ${result.kind}: ${result.failure} — reproduce: ${replayCommand(config.name, seed, undefined, undefined, driver)}`);
      }
      if (failures.length > 0) console.log(failures.join("\n"));
      expect(failures).toEqual([]);
      // The runs did work: entries committed and leaders elected in every seed on average.
      expect(committed / perConfig).toBeGreaterThan(10);
      expect(leaderTerms / perConfig).toBeGreaterThanOrEqual(1);
    }, 120_000);
  }
});
