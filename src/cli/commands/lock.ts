import { defineCommand } from "citty";
import { QklzlError } from "../../shared/errors.ts";
import { lockArgs } from "../args.ts";
import { printError } from "../format.ts";
import { parseInteger } from "../parse.ts";
import { acquireLock } from "../recipes/lock.ts";
import { UsageError } from "../usage_error.ts";

/**
 * lockCommand: `qklzl lock NAME -- CMD...` acquires the lock (README "Locks"), runs CMD holding it with
 * QKLZL_LOCK_KEY and QKLZL_LOCK_REVISION (the fencing token) in its environment, then releases it. Exits with
 * CMD's code; 1 (and CMD is sent SIGTERM) if the lease is lost while CMD runs.
 */
export const lockCommand = defineCommand({
  meta: { name: "lock", description: "Run a command holding a cluster-wide lock: lock NAME [--ttl S] -- CMD..." },
  args: lockArgs,
  async run({ args }) {
    const name = args.name;
    if (name === undefined || name === "") throw new UsageError("missing lock NAME", "lock");
    const command = (args._ as string[]).slice(1);
    if (command.length === 0) throw new UsageError("missing the command to run: lock NAME -- CMD...", "lock");
    const ttl = parseInteger("ttl", args.ttl, 1);
    const { memberCaller } = await import("../recipes/member_caller.ts");
    const addrs = args.addr.split(",");
    const client = { call: memberCaller(addrs, 5000), addrs };
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once("SIGINT", onSigint);
    const held = await acquireLock(client, { name, ttl, signal: abort.signal });
    let child: ReturnType<typeof Bun.spawn> | null = null;
    try {
      child = Bun.spawn(command, {
        stdio: ["inherit", "inherit", "inherit"],
        env: { ...process.env, QKLZL_LOCK_KEY: held.key, QKLZL_LOCK_REVISION: String(held.revision) },
      });
      const outcome = await Promise.race([child.exited.then((code) => ({ code })), held.lost.then((error) => ({ error }))]);
      if ("error" in outcome) {
        child.kill("SIGTERM");
        await child.exited;
        throw new QklzlError("lease_not_found", `lock ${JSON.stringify(name)} lost while the command ran (its lease ${held.lease} expired)`);
      }
      process.exitCode = outcome.code;
    } finally {
      process.off("SIGINT", onSigint);
      await held.release().catch((error: unknown) => printError(`qklzl: releasing lock ${name}: ${error instanceof Error ? error.message : String(error)}`));
    }
  },
});
