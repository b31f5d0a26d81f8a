import { afterAll, beforeAll } from "bun:test";
import type { Cluster } from "../scenarios/harness.ts";

/**
 * formedForThisFile registers the usual life of a multi-process test file's cluster: formed fresh (node 1
 * bootstraps, the others join; with `ids`, only those, the rest may join later) before the file's tests,
 * destroyed after them, every PID killed.
 */
export function formedForThisFile(cluster: Cluster, options: { timeoutMs: number; keepFiles?: boolean; ids?: number[] }): Cluster {
  beforeAll(async () => {
    await cluster.explain(() => cluster.startFresh({ ids: options.ids }));
  }, { timeout: options.timeoutMs });
  afterAll(async () => {
    await cluster.destroy({ keepFiles: options.keepFiles ?? false });
  });
  return cluster;
}
