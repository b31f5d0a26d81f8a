// The simulator's command line: `bun run sim --seeds N --seed S [--config NAME] [--driver ready|runtime] [--fault NAME] [--trace]`.
// With --seed alone it replays that one seed (with a trace on failure); with --seeds it sweeps N seeds
// from S across the configurations (or the one named). Without --driver a sweep alternates the drivers on each
// pass through the configurations (a single seed runs the "ready" driver). Exit code 1 when any seed fails.
import { parseArgs } from "node:util";
import type { TestFaults } from "../../src/raft/types.ts";
import { type SimDriver, driverForSeed } from "./cluster.ts";
import { configNamed, configs } from "./configs.ts";
import { replayCommand, runSeed } from "./run.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    seed: { type: "string" },
    config: { type: "string" },
    fault: { type: "string", multiple: true },
    ticks: { type: "string" },
    driver: { type: "string" },
    trace: { type: "boolean", default: false },
  },
});

const knownFaults = ["commitPreviousTermByCount", "voteWithoutLogCheck", "readIndexWithoutQuorum"];
const faults: TestFaults = {};
for (const name of values.fault ?? []) {
  if (!knownFaults.includes(name)) throw new Error(`unknown fault ${name}; known: ${knownFaults.join(", ")}`);
  (faults as Record<string, boolean>)[name] = true;
}
const count = values.seeds ? Number(values.seeds) : 1;
const first = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const chosen = values.config ? [configNamed(values.config)] : configs;
const ticks = values.ticks ? Number(values.ticks) : undefined;
const replaying = count === 1;
if (values.driver !== undefined && values.driver !== "ready" && values.driver !== "runtime") throw new Error(`unknown driver ${values.driver}; known: ready, runtime`);
const chosenDriver = values.driver as SimDriver | undefined;

const started = performance.now();
let failed = 0;
let ran = 0;
for (let i = 0; i < count; i++) {
  const seed = first + i;
  const config = chosen[i % chosen.length]!;
  const driver = chosenDriver ?? driverForSeed(Math.floor(i / chosen.length));
  const result = runSeed(config, seed, { faults, ticks, trace: replaying || values.trace, driver });
  ran++;
  if (replaying) {
    for (const line of result.trace) console.log(line);
    console.log(JSON.stringify({ config: result.config, seed, driver, ok: result.ok, ticks: result.ticks, leaderTerms: result.leaderTerms, committed: result.committedIndex, ...result.stats }));
  }
  if (!result.ok) {
    failed++;
    console.log(`FAIL ${result.kind}: ${result.failure} — reproduce: ${replayCommand(config.name, seed, faults, ticks, driver)}`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`${ran} seeds from ${first}, ${failed} failed, ${seconds.toFixed(1)} s`);
process.exit(failed > 0 ? 1 : 0);
