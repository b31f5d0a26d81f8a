import type { NodeOptions, RunningNode } from "../node/types.ts";
import { printError } from "./format.ts";

/** stop_deadline_ms bounds a graceful stop; past it the process exits 1 rather than hang a shutdown script. */
const stop_deadline_ms = 15_000;

/**
 * runNode starts the node runtime in this process and keeps it running in the foreground. SIGTERM/SIGINT stop
 * it gracefully (exit 0); a second signal exits at once (1); a node removed from the cluster exits 0.
 * A node that cannot start (address in use, corrupt data) prints one line and exits 1.
 */
export async function runNode(options: NodeOptions): Promise<never> {
  const [{ startNode }, { consola }] = await Promise.all([import("../node/index.ts"), import("consola")]);
  let node: RunningNode;
  try {
    node = await startNode(options);
  } catch (error) {
    printError(`qklzl: node ${options.id} could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  const log = consola.withTag(`node${node.id}`);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      printError(`qklzl: second ${signal} while stopping: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info(`${signal} received, stopping`);
    setTimeout(() => {
      printError(`qklzl: node ${node.id} did not stop within ${stop_deadline_ms} ms: exiting`);
      process.exit(1);
    }, stop_deadline_ms).unref();
    node.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        printError(`qklzl: node ${node.id} failed to stop cleanly: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  await node.done;
  if (!stopping) log.info("exiting: the node stopped on its own (removed from the cluster)");
  // When a signal started the stop, its handler exits once stop() resolves; otherwise the node left on its own.
  if (!stopping) process.exit(0);
  return await new Promise<never>(() => {});
}
