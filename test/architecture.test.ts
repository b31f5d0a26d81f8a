import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

// Dependencies point inward: cli → node → {raft, storage, transport, kv} → shared. The raft core stays pure.
const root = join(import.meta.dir, "..", "src");

const allowedImports: Record<string, string[]> = {
  shared: ["shared"],
  raft: ["shared", "raft"],
  kv: ["shared", "kv"],
  storage: ["shared", "raft", "storage"],
  transport: ["shared", "raft", "transport"],
  node: ["shared", "raft", "storage", "transport", "kv", "node"],
  cli: ["shared", "node", "cli", "kv"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

function layerOf(path: string): string {
  return relative(root, path).split("/")[0]!;
}

function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)) found.push(match[1]!);
  return found;
}

/** violations lists "file: reason" for every import that points outward or breaks the core's purity. */
export function violations(files: { path: string; text: string }[]): string[] {
  const out: string[] = [];
  for (const { path, text } of files) {
    const layer = layerOf(path);
    const allowed = allowedImports[layer];
    if (!allowed) {
      out.push(`${path}: unknown layer ${layer}`);
      continue;
    }
    for (const spec of importsOf(text)) {
      if (spec.startsWith(".")) {
        const target = layerOf(join(path, "..", spec));
        if (!allowed.includes(target)) out.push(`${path}: ${layer} must not import ${target} (${spec})`);
      } else if (layer === "raft") {
        out.push(`${path}: the raft core must not import packages or runtime modules (${spec})`);
      }
    }
    if (layer === "raft") {
      const code = text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
      for (const banned of ["Date.now", "new Date", "Math.random", "setTimeout", "setInterval", "performance.now", "await ", "Bun.", "process."]) {
        if (code.includes(banned)) out.push(`${path}: the raft core must stay pure (${banned})`);
      }
    }
  }
  return out;
}

describe("architecture", () => {
  const files = sourceFiles(root).map((path) => ({ path, text: readFileSync(path, "utf8") }));

  test("dependencies point inward and the raft core is pure", () => {
    expect(violations(files)).toEqual([]);
  });

  test("the checker catches a planted outward import and an impure core", () => {
    const planted = [
      { path: join(root, "raft", "planted.ts"), text: 'import { x } from "../node/index.ts";\nconst t = Date.now();' },
      { path: join(root, "kv", "planted.ts"), text: 'import { y } from "../storage/index.ts";' },
      { path: join(root, "raft", "planted2.ts"), text: 'import { readFileSync } from "node:fs";' },
    ];
    expect(violations(planted)).toHaveLength(4);
  });
});
