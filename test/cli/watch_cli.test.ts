import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { formatEvent, SseParser, type WatchEventJson } from "../../src/cli/watch_client.ts";

// `qklzl watch`: its command line, the SSE parser it reads streams with, and its one-line output.
const entry = join(import.meta.dir, "..", "..", "src", "cli", "main.ts");

function qklzl(args: string[]): { code: number; stderr: string } {
  const result = Bun.spawnSync([process.execPath, entry, ...args], { env: { ...process.env, NO_COLOR: "1" }, timeout: 20_000 });
  return { code: result.exitCode ?? -1, stderr: result.stderr.toString() };
}

describe("qklzl watch command line", () => {
  const cases: [string, string[], string][] = [
    ["no key", ["watch"], "missing KEY"],
    ["key and prefix", ["watch", "k", "--prefix", "p"], "KEY or --prefix"],
    ["range end with prefix", ["watch", "--prefix", "p", "--range-end", "q"], "--range-end goes with KEY"],
    ["bad start revision", ["watch", "k", "--start-revision", "soon"], "--start-revision must be"],
    ["bad filter", ["watch", "k", "--filter", "nothing"], "--filter"],
  ];
  for (const [name, args, message] of cases) {
    test(`${name}: exit 2 with one line`, () => {
      const { code, stderr } = qklzl(args);
      expect(stderr).toContain(message);
      expect(code).toBe(2);
    });
  }
});

describe("SseParser", () => {
  test("messages split across chunks and CRLF line ends; comments and heartbeats dropped; data lines joined", () => {
    const parser = new SseParser();
    const text = ": heartbeat\n\nretry: 1000\nevent: created\ndata: {\"a\":1}\n\nid: 7\r\ndata: x\r\ndata: y\r\n\r\n";
    const bytes = new TextEncoder().encode(text);
    const out = [];
    for (let i = 0; i < bytes.length; i += 5) out.push(...parser.push(bytes.slice(i, i + 5)));
    expect(out).toEqual([
      { event: "created", id: null, data: '{"a":1}' },
      { event: "message", id: "7", data: "x\ny" },
    ]);
  });

  test("a multi-byte character split between chunks survives", () => {
    const parser = new SseParser();
    const bytes = new TextEncoder().encode("id: 1\ndata: é€\n\n");
    const cut = bytes.indexOf(0xe2) + 1;
    expect([...parser.push(bytes.slice(0, cut)), ...parser.push(bytes.slice(cut))]).toEqual([{ event: "message", id: "1", data: "é€" }]);
  });
});

test("formatEvent: one line per event, quoted, prev value when present; --json is the event itself", () => {
  const kv = { key: "a b", value: "1\n2", create_revision: 3, mod_revision: 5, version: 2, lease: 0 };
  const put: WatchEventJson = { type: "put", kv, prev_kv: { ...kv, value: "0", mod_revision: 3, version: 1 }, revision: 5 };
  expect(formatEvent(put, false)).toBe('5 PUT "a b" "1\\n2" (prev "0")');
  expect(formatEvent({ type: "delete", kv: { ...kv, value: "" }, revision: 6 }, false)).toBe('6 DELETE "a b"');
  expect(JSON.parse(formatEvent(put, true))).toEqual(put);
});
