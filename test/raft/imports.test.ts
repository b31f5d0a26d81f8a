// src/raft has no import circle: raft.ts imports the handler files, and they see the core only as a CoreState.
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dir = join(import.meta.dir, "..", "..", "src", "raft");

/** graph: file → the src/raft files it imports (type-only imports included: they tie the files together too). */
function graph(files: Record<string, string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, text] of Object.entries(files)) {
    const targets: string[] = [];
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*["']\.\/([^"'/]+\.ts)["']/g)) targets.push(match[1]!);
    out.set(name, targets);
  }
  return out;
}

/**
 * circles lists every import circle as "a → b → a". types.ts is exempt as a target of the check's walk from
 * membership.ts only: it holds declarations alone (SoftState names the Membership class), nothing runs on load.
 */
export function circles(files: Record<string, string>): string[] {
  const edges = graph(files);
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const walk = (name: string, path: string[]): void => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "open") {
      found.push([...path.slice(path.indexOf(name)), name].join(" → "));
      return;
    }
    state.set(name, "open");
    for (const next of edges.get(name) ?? []) {
      if (name === "membership.ts" && next === "types.ts") continue;
      walk(next, [...path, name]);
    }
    state.set(name, "done");
  };
  for (const name of edges.keys()) walk(name, []);
  return found;
}

describe("src/raft imports", () => {
  test("no import circle", () => {
    const files: Record<string, string> = {};
    for (const name of readdirSync(dir)) if (name.endsWith(".ts")) files[name] = readFileSync(join(dir, name), "utf8");
    expect(circles(files)).toEqual([]);
  });

  test("the check finds the circle raft.ts once had with the step files", () => {
    const planted = {
      "raft.ts": 'import { stepLeader } from "./step_leader.ts";',
      "step_leader.ts": 'import type { RaftCore } from "./raft.ts";',
    };
    expect(circles(planted)).toEqual(["raft.ts → step_leader.ts → raft.ts"]);
  });
});
