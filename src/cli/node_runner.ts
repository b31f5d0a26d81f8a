import type { NodeOptions, RunningNode } from "../node/types.ts";
import { printError } from "./format.ts";

/** stop_deadline_ms bounds a graceful stop; past it the process exits 1 rather than hang a shutdown script. */
const stop_deadline_ms = 15_000;

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * runNode starts the node runtime in this process and keeps it running in the foreground. SIGTERM/SIGINT stop
 * it gracefully (exit 0); a second signal exits at once (1); a node removed from the cluster exits 0.
 * A node that cannot start (address in use, corrupt data) prints one line and exits 1.
 * Signal handlers go in before the node starts: a SIGTERM during start-up stops the node once it is up,
 * instead of killing the process half-way (exit 143) with files open.
 */
export async function runNode(options: NodeOptions): Promise<never> {
  let node: RunningNode | null = null;
  let stopRequested: NodeJS.Signals | null = null;
  const { consola } = await import("consola");
  // A node's info lines (elections, membership, snapshots) are its operator log: keep them even when the
  // environment says NODE_ENV=test (consola then defaults to warn), unless CONSOLA_LEVEL asks otherwise.
  if (process.env.CONSOLA_LEVEL === undefined) consola.level = 3;
  const logger = consola.withTag(`node${options.id}`);

  function stopNow(running: RunningNode, signal: NodeJS.Signals): void {
    logger.info(`${signal} received, stopping`);
    setTimeout(() => {
      printError(`qklzl: node ${options.id} did not stop within ${stop_deadline_ms} ms: exiting`);
      process.exit(1);
    }, stop_deadline_ms).unref();
    running.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        printError(`qklzl: node ${options.id} failed to stop cleanly: ${reason(error)}`);
        process.exit(1);
      },
    );
  }

  function onSignal(signal: NodeJS.Signals): void {
    if (stopRequested !== null) {
      printError(`qklzl: second ${signal} while stopping: exiting now`);
      process.exit(1);
    }
    stopRequested = signal;
    if (node !== null) stopNow(node, signal);
  }
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // SIGHUP re-reads the TLS files (etcd needs a restart for this; operators of long-lived nodes should not).
  process.on("SIGHUP", () => {
    if (node === null || stopRequested !== null) return;
    logger.info("SIGHUP received, reloading TLS certificates");
    void node.reloadTls();
  });

  const { startNode } = await import("../node/index.ts");
  try {
    node = await startNode(options);
  } catch (error) {
    printError(`qklzl: node ${options.id} could not start: ${reason(error)}`);
    process.exit(1);
  }
  if (stopRequested !== null) stopNow(node, stopRequested);
  await node.done;
  // When a signal started the stop, stopNow exits once stop() resolves; otherwise the node left on its own.
  if (stopRequested === null) {
    logger.info("exiting: the node stopped on its own (removed from the cluster)");
    process.exit(0);
  }
  return await new Promise<never>(() => {});
}
