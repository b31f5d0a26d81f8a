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

/** importGraph: for every file, the files of `files` it imports (relative specifiers; `import type` counts too). */
function importGraph(files: { path: string; text: string }[]): Map<string, string[]> {
  const known = new Set(files.map((f) => f.path));
  const graph = new Map<string, string[]>();
  for (const { path, text } of files) {
    const targets = importsOf(text)
      .filter((spec) => spec.startsWith("."))
      .map((spec) => join(path, "..", spec))
      .filter((target) => known.has(target));
    graph.set(path, [...new Set(targets)]);
  }
  return graph;
}

/**
 * importCircles lists every import circle: the strongly connected components of the import graph with more
 * than one file (or a file importing itself), each as its sorted paths relative to src/ (Tarjan's algorithm).
 */
export function importCircles(files: { path: string; text: string }[]): string[][] {
  const graph = importGraph(files);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const circles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(component.map((p) => relative(root, p)).sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return circles.sort((a, b) => a[0]!.localeCompare(b[0]!));
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

  test("no import circles in src/", () => {
    expect(importCircles(files)).toEqual([]);
  });

  test("the circle check catches a planted circle, a type-only one and a self-import", () => {
    const at = (name: string) => join(root, "node", name);
    const planted = [
      { path: at("a.ts"), text: 'import { b } from "./b.ts";' },
      { path: at("b.ts"), text: 'import { c } from "./c.ts";' },
      { path: at("c.ts"), text: 'import type { A } from "./a.ts";\nimport { d } from "./d.ts";' },
      { path: at("d.ts"), text: "export const d = 1;" },
      { path: at("e.ts"), text: 'import { e } from "./e.ts";' },
    ];
    expect(importCircles(planted)).toEqual([["node/a.ts", "node/b.ts", "node/c.ts"], ["node/e.ts"]]);
    expect(importCircles(planted.filter((f) => !f.path.endsWith("c.ts") && !f.path.endsWith("e.ts")))).toEqual([]);
  });
});
