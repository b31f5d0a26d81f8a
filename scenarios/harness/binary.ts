import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

// binary.ts finds the command that runs a node: $QKLZL_BIN (split on spaces, so `bun src/cli/main.ts` works),
// else the repository's bin/qklzl, built with `bun run build` when missing or older than the sources.

export const repoRoot = path.resolve(import.meta.dir, "..", "..");
const defaultBinary = path.join(repoRoot, "bin", "qklzl");

function newestSourceMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtimeMs(full));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

async function build(): Promise<void> {
  const proc = Bun.spawn([process.execPath, "run", "build"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`\`bun run build\` failed with exit code ${code}:\n${out}\n${err}`);
}

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
  const stale = !existsSync(defaultBinary) || statSync(defaultBinary).mtimeMs < newestSourceMtimeMs(path.join(repoRoot, "src"));
  if (stale) await build();
  return [defaultBinary];
}
