import type { ArgsDef } from "citty";

/** UsageError: the command line itself is wrong (bad or missing flag). main.ts prints one line and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** command is the path shown in the hint, e.g. "kv put". */
  constructor(message: string, readonly command: string = "") {
    super(message);
  }
}

/** isUsageError checks the name, not instanceof, so it survives duplicated modules. */
export function isUsageError(value: unknown): value is UsageError {
  return value instanceof Error && value.name === "UsageError";
}

/**
 * rejectUnknownFlags throws on a flag the command does not define: citty parses leniently and would
 * silently ignore `-dta-dir ./d`, which then fails later with a confusing message (or not at all).
 */
export function rejectUnknownFlags(rawArgs: readonly string[], def: ArgsDef, command: string): void {
  const known = new Set(["help", "h"]);
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === "positional") continue;
    known.add(name);
    if (arg.type === "boolean") known.add(`no-${name}`);
  }
  for (const token of rawArgs) {
    if (token === "--") return;
    const match = /^--?([^=]+)/.exec(token);
    if (match === null || /^-\d/.test(token)) continue;
    if (!known.has(match[1]!)) throw new UsageError(`unknown flag ${token.split("=")[0]}`, command);
  }
}
