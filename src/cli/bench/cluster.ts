import { Launcher } from "../launcher/index.ts";

/**
 * benchCluster: a throw-away 3-node cluster of this binary on loopback for `qklzl bench`, through the one launcher:
 * its own temp dir (removed by destroy()), output dropped, nodes logging errors only. `command` replaces this
 * program (tests); `extraArgs` go on every node's start line.
 */
export function benchCluster(options: { command?: string[]; extraArgs?: string[] } = {}): Launcher {
  return new Launcher({ name: "bench", command: options.command, extraArgs: options.extraArgs, output: "ignore", env: { CONSOLA_LEVEL: "1" } });
}
