// Golden interaction tests (etcd-io/raft's testdata/*.txt style): each file in testdata/ opens with one `#`
// paragraph saying what it shows, then blocks of a command (see interaction.ts), `----`, and the output it must
// print. A change of behaviour shows up as a diff of the text. UPDATE_GOLDEN=1 rewrites the outputs in place.
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Interaction } from "./interaction.ts";

const dir = join(import.meta.dir, "testdata");
const update = process.env.UPDATE_GOLDEN === "1";

interface Block {
  /** comments: `#` lines just above the command (kept on rewrite). */
  comments: string[];
  command: string;
  expected: string[];
  line: number;
}

/** parse splits a script into its intent paragraph and its blocks. */
export function parse(text: string): { intent: string[]; blocks: Block[] } {
  const lines = text.split("\n");
  let i = 0;
  const intent: string[] = [];
  while (i < lines.length && lines[i]!.startsWith("#")) intent.push(lines[i++]!);
  const blocks: Block[] = [];
  while (i < lines.length) {
    if (lines[i]!.trim() === "") {
      i++;
      continue;
    }
    const comments: string[] = [];
    while (i < lines.length && lines[i]!.startsWith("#")) comments.push(lines[i++]!);
    const command = lines[i++] ?? "";
    const line = i;
    if (lines[i] !== "----") throw new Error(`line ${line}: "----" expected after "${command}"`);
    i++;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== "") expected.push(lines[i++]!);
    blocks.push({ comments, command, expected, line });
  }
  return { intent, blocks };
}

function render(intent: string[], blocks: Array<Block & { actual: string[] }>): string {
  const parts = [intent.join("\n")];
  for (const b of blocks) parts.push([...b.comments, b.command, "----", ...b.actual].join("\n"));
  return `${parts.join("\n\n")}\n`;
}

const files = readdirSync(dir).filter((f) => f.endsWith(".txt")).sort();

describe("raft interaction scripts (testdata/*.txt)", () => {
  test("there are scripts, each opening with its intent", () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) expect(parse(readFileSync(join(dir, f), "utf8")).intent.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    test(file, () => {
      const path = join(dir, file);
      const { intent, blocks } = parse(readFileSync(path, "utf8"));
      const env = new Interaction();
      const ran = blocks.map((b) => ({ ...b, actual: env.run(b.command) }));
      if (update) {
        writeFileSync(path, render(intent, ran));
        return;
      }
      for (const b of ran) expect(`${file}:${b.line} ${b.command}\n${b.actual.join("\n")}`).toBe(`${file}:${b.line} ${b.command}\n${b.expected.join("\n")}`);
    });
  }
});
