import type { ArgsDef } from "citty";

// legacy_flags.ts lets the original design's Go-style command lines work verbatim. Go's flag package takes
// `-data-dir x`, `--data-dir x`, `-data-dir=x` alike; citty (node:util parseArgs) reads `-id` as the short
// flags -i -d (BUN-NOTES §3). So long names written with one dash are rewritten to two before citty sees them.

export type FlagKind = "string" | "boolean";

/** FlagTable maps every long flag name (kebab-case) to whether it takes a value. */
export type FlagTable = ReadonlyMap<string, FlagKind>;

/** flagTable builds the table from citty arg definitions, so it cannot drift from them; a name used with two kinds throws. */
export function flagTable(defs: readonly ArgsDef[]): FlagTable {
  const table = new Map<string, FlagKind>([["help", "boolean"], ["version", "boolean"]]);
  for (const def of defs) {
    for (const [name, arg] of Object.entries(def)) {
      if (arg.type === "positional") continue;
      const kind: FlagKind = arg.type === "boolean" ? "boolean" : "string";
      const known = table.get(name);
      if (known !== undefined && known !== kind) throw new Error(`flag --${name} is both ${known} and ${kind}`);
      table.set(name, kind);
    }
  }
  return table;
}

const builtinTopLevel = new Set(["-h", "--help", "-v", "--version"]);

/**
 * normalizeArgv rewrites `-long-name[=v]` to `--long-name[=v]` for known names, leaves values, short flags and
 * everything after `--` alone, and reads a command line that starts with a flag as `start ...` (the Go form
 * `qklzl -id 1 -data-dir d -bootstrap ...` had no subcommand).
 */
export function normalizeArgv(argv: readonly string[], table: FlagTable): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const match = /^--?([a-zA-Z][a-zA-Z0-9-]*)(=.*)?$/.exec(token);
    const name = match?.[1];
    const kind = name === undefined ? undefined : table.get(name);
    if (match === null || kind === undefined || name!.length < 2) {
      out.push(token);
      continue;
    }
    out.push(`--${name}${match[2] ?? ""}`);
    // A value flag without `=v` takes the next token verbatim, even one that looks like a flag.
    if (kind === "string" && match[2] === undefined && i + 1 < argv.length) out.push(argv[++i]!);
  }
  const first = out[0];
  if (first !== undefined && first.startsWith("-") && !builtinTopLevel.has(first)) out.unshift("start");
  return out;
}
