import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

// build_binary.ts: bin/qklzl for the tools that run it from a checkout (`npm start`, the scenario harness): it is
// stale when missing or older than anything it is built from (src/ and package.json), and `bun run build`
// rebuilds it. The binary itself never needs this; `qklzl bench` runs itself.

export const repoRoot = path.resolve(import.meta.dir, "..");
export const binaryPath = path.join(repoRoot, "bin", "qklzl");

/** newestSourceMtimeMs: the newest modification time of any file under `dir`. */
function newestSourceMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMtimeMs(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** binaryIsStale: bin/qklzl is missing, or something it is built from changed after it was written. */
export function binaryIsStale(): boolean {
  if (!existsSync(binaryPath)) return true;
  const sourcesMtimeMs = Math.max(newestSourceMtimeMs(path.join(repoRoot, "src")), statSync(path.join(repoRoot, "package.json")).mtimeMs);
  return statSync(binaryPath).mtimeMs < sourcesMtimeMs;
}

/** buildBinary runs `bun run build` in the repository; a failed build throws with the compiler's output. */
export async function buildBinary(): Promise<void> {
  const proc = Bun.spawn([process.execPath, "run", "build"], { cwd: repoRoot, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`\`bun run build\` failed with exit code ${code}:\n${out}\n${err}`);
}
