import path from "node:path";
import { binaryIsStale, binaryPath, buildBinary, repoRoot } from "../../scripts/build_binary.ts";

// binary.ts finds the command that runs a node: $QKLZL_BIN (split on spaces, so `bun src/cli/main.ts` works),
// else the repository's bin/qklzl, rebuilt (scripts/build_binary.ts) when missing or older than the sources.

export { repoRoot };

let resolved: Promise<string[]> | null = null;

/** nodeCommand resolves (once per process) the argv prefix that starts a qklzl process. */
export function nodeCommand(): Promise<string[]> {
  resolved ??= resolveCommand();
  return resolved;
}

async function resolveCommand(): Promise<string[]> {
  const fromEnv = process.env.QKLZL_BIN?.trim();
  if (fromEnv) {
    const parts = fromEnv.split(/\s+/);
    // A relative program path is taken from the repository root, like the README's ./bin/qklzl.
    const program = parts[0]!;
    if (program.includes("/") && !path.isAbsolute(program)) parts[0] = path.join(repoRoot, program);
    return parts;
  }
  if (binaryIsStale()) await buildBinary();
  return [binaryPath];
}
