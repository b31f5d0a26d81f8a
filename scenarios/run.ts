#!/usr/bin/env bun
// run.ts (`bun run scenarios [name-prefix...]`): replays the documented cluster tests against the real binary.
// One line per scenario, `PASS|FAIL name (1.2s)`; on failure the assertion, each node's last /status and log
// tail; the last line is exactly `N passed, N failed`; the exit code is non-zero on any failure.
// Scenarios that continue from the previous one's end state share its cluster when both run in order; a
// scenario run alone (or after a failure) first builds its own precondition.

import { scenario as s01 } from "./01_leader_election.ts";
import { scenario as s02 } from "./02_log_replication.ts";
import { scenario as s03 } from "./03_follower_write_refused.ts";
import { scenario as s04 } from "./04_leader_failure.ts";
import { scenario as s05 } from "./05_new_leader_writes.ts";
import { scenario as s06 } from "./06_node_recovery.ts";
import { scenario as s07 } from "./07_partition_one_node.ts";
import { scenario as s08 } from "./08_majority_loss.ts";
import { scenario as s09 } from "./09_durability_restart.ts";
import { scenario as s10 } from "./10_designated_leader_restart.ts";
import { CheckError, installCleanupHandlers, killAllSync, nodeCommand, withDeadline } from "./harness.ts";
import { scenario as quickstartFailover } from "./quickstart_failover.ts";
import { scenario as quickstartKv } from "./quickstart_kv.ts";
import type { Scenario, ScenarioContext } from "./scenario.ts";
import { scenario as x1 } from "./x1_leader_paused.ts";
import { scenario as x2 } from "./x2_leader_kill9_writes.ts";
import { scenario as x3 } from "./x3_snapshot_catchup.ts";
import { scenario as x4 } from "./x4_leave_wipe_rejoin.ts";
import { scenario as x5 } from "./x5_back_to_back_start_failover.ts";

/** The run order: the documented quick start and tests 1-10 on one cluster, then the ones with their own. */
export const scenarios: Scenario[] = [s01, s02, s03, quickstartKv, s04, s05, s06, s07, s08, s09, s10, quickstartFailover, x1, x2, x3, x4, x5];

/** budgetMs bounds the whole run; scenarios left when it is spent fail as "not run". */
const budgetMs = Number(process.env.QKLZL_SCENARIO_BUDGET_MS ?? 15 * 60_000);

function usage(): never {
  console.log("usage: bun scenarios/run.ts [--list] [--verbose] [name-prefix ...]   e.g. `bun scenarios/run.ts 06 x2`");
  console.log("  --verbose (-v): after each PASS line, the scenario's notes (timings, answers seen)");
  for (const s of scenarios) console.log(`  ${s.name.padEnd(30)} ${s.title}`);
  process.exit(0);
}

function select(args: string[]): Scenario[] {
  if (args.length === 0) return scenarios;
  const chosen = scenarios.filter((s) => args.some((prefix) => s.name.startsWith(prefix)));
  const unknown = args.filter((prefix) => !scenarios.some((s) => s.name.startsWith(prefix)));
  if (unknown.length > 0) {
    console.error(`no scenario matches: ${unknown.join(", ")}`);
    process.exit(2);
  }
  return chosen;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
}

function describeError(error: unknown): string {
  if (error instanceof CheckError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}\n${error.stack ?? ""}`;
  return String(error);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h") || argv.includes("--list")) usage();
  const verbose = argv.includes("--verbose") || argv.includes("-v");
  const args = argv.filter((arg) => arg !== "--verbose" && arg !== "-v");
  installCleanupHandlers();
  const selected = select(args);
  try {
    const command = await nodeCommand();
    console.log(`qklzl scenarios: ${selected.length} to run with ${command.join(" ")}`);
  } catch (error) {
    console.log(`FAIL build (0.0s)\n  assertion: ${describeError(error)}`);
    console.log(`0 passed, ${selected.length + 1} failed`);
    return 1;
  }

  const runStarted = performance.now();
  let passed = 0;
  let failed = 0;
  let ctx: ScenarioContext = { cluster: null, notes: [] };
  let previous: { name: string; ok: boolean } | null = null;

  for (const scenario of selected) {
    const started = performance.now();
    const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
    if (performance.now() - runStarted > budgetMs) {
      failed += 1;
      console.log(`FAIL ${scenario.name} (0.0s)\n  assertion: not run: the run's budget of ${budgetMs / 1000} s is spent`);
      continue;
    }
    const continues = previous !== null && previous.ok && scenario.follows === previous.name && ctx.cluster !== null;
    if (!continues) {
      await ctx.cluster?.destroy();
      ctx = { cluster: null, notes: [] };
    }
    ctx.notes = [];
    let phase = continues ? "run" : "setup";
    try {
      const work = (async () => {
        if (!continues) await scenario.setup(ctx);
        phase = "run";
        await scenario.run(ctx);
      })();
      // After a timeout the script is abandoned (its cluster is destroyed below); its later rejection is moot.
      work.catch(() => {});
      await withDeadline(work, scenario.timeoutMs, `scenario ${scenario.name}`);
      passed += 1;
      console.log(`PASS ${scenario.name} (${elapsed()})`);
      if (verbose) for (const note of ctx.notes) console.log(`  note: ${note}`);
      previous = { name: scenario.name, ok: true };
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${scenario.name} (${elapsed()})`);
      console.log(`  assertion${phase === "setup" ? " (while building the precondition)" : ""}: ${describeError(error)}`);
      for (const note of ctx.notes) console.log(`  note: ${note}`);
      if (ctx.cluster !== null) {
        console.log(indent(await ctx.cluster.diagnostics()));
        await ctx.cluster.destroy({ keepFiles: true });
        console.log(`  data and logs kept in ${ctx.cluster.root}`);
      }
      ctx = { cluster: null, notes: [] };
      previous = { name: scenario.name, ok: false };
    }
  }
  await ctx.cluster?.destroy();
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

const code = await main();
killAllSync();
process.exit(code);
