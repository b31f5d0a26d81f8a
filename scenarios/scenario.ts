import { Cluster, type ClusterOptions } from "./harness.ts";

// scenario.ts: what a scenario is. A scenario is a short script over the harness; `follows` names the scenario
// whose end state it continues from when run in order (the documented tests 4 -> 10 share one cluster), and
// `setup` builds that precondition from nothing when it runs alone or after a failure.

export interface ScenarioContext {
  /** cluster: set by the setup that starts one; run.ts destroys it when the chain ends. */
  cluster: Cluster | null;
  /** notes: remarks worth printing even on success (e.g. an accepted but surprising answer). */
  notes: string[];
}

export interface Scenario {
  /** name: the file name without .ts, e.g. "04_leader_failure". */
  name: string;
  /** title: what the original design document calls the test. */
  title: string;
  /** follows: the scenario whose end state this one continues from when both run in order. */
  follows?: string;
  setup(ctx: ScenarioContext): Promise<void>;
  run(ctx: ScenarioContext): Promise<void>;
  /** timeoutMs bounds setup + run. */
  timeoutMs: number;
}

/** clusterOf returns the context's cluster; a scenario run without one is a harness bug. */
export function clusterOf(ctx: ScenarioContext): Cluster {
  if (ctx.cluster === null) throw new Error("scenario has no cluster: its setup did not start one");
  return ctx.cluster;
}

/** freshCluster: the README's set-up on new data dirs (node 1 bootstraps, 2 and 3 join node 1). */
export async function freshCluster(ctx: ScenarioContext, options: ClusterOptions = {}): Promise<Cluster> {
  await ctx.cluster?.destroy();
  const cluster = new Cluster({ name: "scenario", ...options });
  ctx.cluster = cluster;
  await cluster.startFresh();
  return cluster;
}

/** after builds a precondition by replaying `previous` (its own setup, then its run). */
export function after(previous: Scenario): (ctx: ScenarioContext) => Promise<void> {
  return async (ctx) => {
    await previous.setup(ctx);
    await previous.run(ctx);
  };
}
