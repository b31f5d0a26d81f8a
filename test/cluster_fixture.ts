import { afterAll, beforeAll } from "bun:test";
import type { Cluster } from "../scenarios/harness.ts";

/**
 * formedForThisFile registers the usual life of a multi-process test file's cluster: formed fresh (node 1
 * bootstraps, the others join) before the file's tests, destroyed after them, every PID killed.
 */
export function formedForThisFile(cluster: Cluster, options: { timeoutMs: number; keepFiles?: boolean }): Cluster {
  beforeAll(async () => {
    await cluster.explain(() => cluster.startFresh());
  }, { timeout: options.timeoutMs });
  afterAll(async () => {
    await cluster.destroy({ keepFiles: options.keepFiles ?? false });
  });
  return cluster;
}
