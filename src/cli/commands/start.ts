import { defineCommand } from "citty";
import { joinArgs, startArgs } from "../args.ts";
import { nodeOptionsFromFlags } from "../options.ts";
import { UsageError } from "../usage_error.ts";

/** startCommand: `qklzl start` runs a node in the foreground (also reached by the Go-style `qklzl -id 1 ...`). */
export const startCommand = defineCommand({
  meta: { name: "start", description: "Run a node in the foreground (--bootstrap a new cluster, or --join ADDR)" },
  args: startArgs,
  async run({ args }) {
    const options = withCommand(() => nodeOptionsFromFlags(args), "start");
    const { runNode } = await import("../node_runner.ts");
    await runNode(options);
  },
});

/** joinCommand: `qklzl join ADDR --id N ...` is `qklzl start --join ADDR --id N ...`. */
export const joinCommand = defineCommand({
  meta: { name: "join", description: "Run a node that joins the cluster through ADDR (same flags as start)" },
  args: joinArgs,
  async run({ args }) {
    const address = args.address ?? args.join;
    if (address === undefined) throw new UsageError("missing ADDR, the HTTP address of a live member (qklzl join 127.0.0.1:8001 ...)", "join");
    if (args.address !== undefined && args.join !== undefined && args.address !== args.join) {
      throw new UsageError(`two join addresses given: ${args.address} and --join ${args.join}`, "join");
    }
    if (args.bootstrap === true) throw new UsageError("join does not take --bootstrap", "join");
    const options = withCommand(() => nodeOptionsFromFlags({ ...args, join: address }), "join");
    const { runNode } = await import("../node_runner.ts");
    await runNode(options);
  },
});

/** withCommand tags a UsageError with the command, for the "see qklzl X --help" hint. */
function withCommand<T>(build: () => T, command: string): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof UsageError && error.command === "") throw new UsageError(error.message, command);
    throw error;
  }
}
