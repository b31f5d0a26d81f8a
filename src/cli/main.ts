#!/usr/bin/env bun
import { type ArgsDef, type CommandDef, renderUsage, runCommand } from "citty";
import { isQklzlError } from "../shared/errors.ts";
import { allArgs } from "./args.ts";
import { examplesFor } from "./examples.ts";
import { printError } from "./format.ts";
import { flagTable, normalizeArgv } from "./legacy_flags.ts";
import { isUsageError, rejectUnknownFlags, UsageError } from "./usage_error.ts";
import { version } from "./version.ts";

// main.ts is the compile entry of bin/qklzl. Exit codes: 0 success, 1 the operation failed (error printed),
// 2 bad command line (one line on stderr), 3 `qklzl check` inconclusive. Subcommands load lazily, so a
// client command never pays for the node runtime.

type AnyCommand = CommandDef<ArgsDef>;

const root: AnyCommand = {
  meta: { name: "qklzl", version, description: "A Raft-replicated key-value store" },
  subCommands: {
    start: () => import("./commands/start.ts").then((m) => m.startCommand as AnyCommand),
    join: () => import("./commands/start.ts").then((m) => m.joinCommand as AnyCommand),
    status: () => import("./commands/status.ts").then((m) => m.statusCommand as AnyCommand),
    kv: () => import("./commands/kv.ts").then((m) => m.kvCommand as AnyCommand),
    txn: () => import("./commands/txn.ts").then((m) => m.txnCommand as AnyCommand),
    compact: () => import("./commands/txn.ts").then((m) => m.compactCommand as AnyCommand),
    lease: () => import("./commands/lease.ts").then((m) => m.leaseCommand as AnyCommand),
    user: () => import("./commands/auth.ts").then((m) => m.userCommand as AnyCommand),
    role: () => import("./commands/auth.ts").then((m) => m.roleCommand as AnyCommand),
    auth: () => import("./commands/auth.ts").then((m) => m.authCommand as AnyCommand),
    lock: () => import("./commands/lock.ts").then((m) => m.lockCommand as AnyCommand),
    elect: () => import("./commands/elect.ts").then((m) => m.electCommand as AnyCommand),
    members: () => import("./commands/members.ts").then((m) => m.membersCommand as AnyCommand),
    leave: () => import("./commands/leave.ts").then((m) => m.leaveCommand as AnyCommand),
    "transfer-leader": () => import("./commands/transfer_leader.ts").then((m) => m.transferLeaderCommand as AnyCommand),
    snapshot: () => import("./commands/snapshot.ts").then((m) => m.snapshotCommand as AnyCommand),
    check: () => import("./commands/check.ts").then((m) => m.checkCommand as AnyCommand),
    watch: () => import("./commands/watch.ts").then((m) => m.watchCommand as AnyCommand),
    bench: () => import("./bench/command.ts").then((m) => m.benchCommand as AnyCommand),
  },
};

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

interface Resolved {
  command: AnyCommand;
  /** path: the subcommand names, e.g. ["kv", "put"]. */
  path: string[];
  /** rest: the arguments after the last subcommand name. */
  rest: string[];
}

/** resolveCommand walks subcommand names from the front of argv (group commands take no flags of their own). */
async function resolveCommand(argv: readonly string[]): Promise<Resolved> {
  let resolved: Resolved = { command: root, path: [], rest: [...argv] };
  for (;;) {
    const subCommands = await resolve(resolved.command.subCommands);
    if (subCommands === undefined) return resolved;
    const at = resolved.rest.findIndex((token) => !token.startsWith("-"));
    const name = at < 0 || resolved.rest.slice(0, at).includes("--") ? undefined : resolved.rest[at];
    if (name === undefined || !(name in subCommands)) return resolved;
    resolved = {
      command: await resolve(subCommands[name]!),
      path: [...resolved.path, name],
      rest: resolved.rest.filter((_, index) => index !== at),
    };
  }
}

function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((token) => token === "-h" || token === "--help");
}

function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}

/** main runs one command line and returns the exit code (a running node never returns). */
export async function main(rawArgv: readonly string[]): Promise<number> {
  const argv = normalizeArgv(rawArgv, flagTable(allArgs));
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    process.stdout.write(`qklzl ${version}\n`);
    return 0;
  }
  const resolved = await resolveCommand(argv);
  const name = ["qklzl", ...resolved.path].join(" ");
  if (wantsHelp(argv)) {
    process.stdout.write(`${await usage(resolved)}\n`);
    return 0;
  }
  try {
    // A group command (subcommands and no run of its own) needs one of them; `qklzl snapshot` runs bare too.
    if (resolved.command.subCommands !== undefined && resolved.command.run === undefined) {
      const unknown = resolved.rest.find((token) => !token.startsWith("-"));
      if (unknown !== undefined) throw new UsageError(`unknown command ${JSON.stringify(unknown)}`, resolved.path.join(" "));
      process.stdout.write(`${await usage(resolved)}\n`);
      throw new UsageError("missing command", resolved.path.join(" "));
    }
    rejectUnknownFlags(resolved.rest, await resolve(resolved.command.args ?? {}), resolved.path.join(" "));
    await (await import("./client_auth.ts")).useClientUser(resolved.rest);
    await runCommand(resolved.command, { rawArgs: resolved.rest });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, name);
  }
}

/** reportError prints one line for a failed command and picks its exit code. */
function reportError(error: unknown, name: string): number {
  if (isUsageError(error) || (error instanceof Error && error.name === "CLIError")) {
    const command = isUsageError(error) && error.command !== "" ? `qklzl ${error.command}` : name;
    printError(`qklzl: ${stripAnsi(error.message)} (see: ${command} --help)`);
    return 2;
  }
  if (isQklzlError(error)) {
    // An unreachable node is not a qklzl error code worth showing ("internal"): the message says it all.
    printError(error.details.unreachable === true ? `qklzl: ${error.message}` : `qklzl: ${error.code}: ${error.message}`);
    return 1;
  }
  printError(`qklzl: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}

/** usage renders a command's help under its full name ("qklzl kv put"), not just its parent's. */
async function usage(resolved: Resolved): Promise<string> {
  const parent: AnyCommand | undefined =
    resolved.path.length === 0 ? undefined : { meta: { name: ["qklzl", ...resolved.path.slice(0, -1)].join(" "), version } };
  return stripAnsiIfPiped(await renderUsage(resolved.command, parent)) + examplesFor(resolved.path.join(" "));
}

function stripAnsiIfPiped(text: string): string {
  return process.stdout.isTTY ? text : stripAnsi(text);
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
