import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { version } from "../../src/cli/version.ts";

// Runs the real entry point (`bun src/cli/main.ts ...`) and checks what a user sees: exit code, stdout, stderr.
const repo = join(import.meta.dir, "..", "..");
const entry = join(repo, "src", "cli", "main.ts");
const scratch = mkdtempSync(join(tmpdir(), "qklzl-cli-usage-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function qklzl(args: string[]): { code: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync([process.execPath, entry, ...args], { cwd: scratch, env: { ...process.env, NO_COLOR: "1" }, timeout: 20_000 });
  return { code: result.exitCode ?? -1, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const go = (id: number, rest: string) => `-id ${id} -data-dir ${join(scratch, `d${id}`)} ${rest}`.split(" ");

describe("bad command lines exit 2 with one clear line on stderr", () => {
  const cases: [string, string[], string][] = [
    ["non-numeric id", go(1, "-bootstrap -raft-addr 127.0.0.1:12001 -http-addr 127.0.0.1:8001").map((a) => (a === "1" ? "one" : a)), "--id must be an integer >= 1, got \"one\""],
    ["unparsable raft address", go(1, "-bootstrap -raft-addr 127.0.0.1 -http-addr 127.0.0.1:8001"), "--raft-addr must be host:port"],
    ["missing data dir", "-id 1 -bootstrap -raft-addr 127.0.0.1:12001 -http-addr 127.0.0.1:8001".split(" "), "missing --data-dir"],
    ["bootstrap and join together", go(2, "-bootstrap -join 127.0.0.1:8001 -raft-addr 127.0.0.1:12002 -http-addr 127.0.0.1:8002"), "exclude each other"],
    ["unknown flag", go(1, "-bootstrap -raft-adr 127.0.0.1:12001 -http-addr 127.0.0.1:8001"), "unknown flag -raft-adr"],
    ["join without address", ["join", "--id", "2"], "missing ADDR"],
    ["unknown command", ["frobnicate"], 'unknown command "frobnicate"'],
    ["kv without subcommand", ["kv"], "missing command"],
    ["kv put without value", ["kv", "put", "k"], "missing VALUE"],
    ["kv get bad consistency", ["kv", "get", "k", "--consistency", "eventual"], "--consistency"],
    ["leave without id", ["leave"], "missing the id"],
    ["transfer-leader bad id", ["transfer-leader", "--to", "x"], "--to must be an integer"],
    ["bad timeout", ["status", "--timeout", "soon"], "--timeout must be a duration"],
  ];
  for (const [name, args, message] of cases) {
    test(name, () => {
      const { code, stderr } = qklzl(args);
      expect(stderr).toContain(message);
      expect(stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(code).toBe(2);
    });
  }
});

describe("--help", () => {
  const commands = ["", "start", "join", "status", "kv", "kv get", "kv put", "kv delete", "members", "leave", "transfer-leader", "snapshot", "check"];
  for (const command of commands) {
    test(`qklzl ${command} --help`, () => {
      const { code, stdout } = qklzl([...command.split(" ").filter(Boolean), "--help"]);
      expect(code).toBe(0);
      expect(stdout).toContain(`USAGE qklzl ${command}`.trimEnd());
      expect(stdout).not.toContain("undefined");
      expect(stdout).toContain("EXAMPLES");
    });
  }

  test("the Go-style form asks for start's help, listing every flag", () => {
    const { code, stdout } = qklzl(["-id", "1", "-h"]);
    expect(code).toBe(0);
    for (const flag of ["--id", "--data-dir", "--bootstrap", "--join", "--raft-addr", "--http-addr", "--heartbeat-ms", "--election-ms", "--snapshot-entries", "--segment-bytes"]) {
      expect(stdout).toContain(flag);
    }
  });
});

test("--version prints the package version", () => {
  const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string };
  expect(version).toBe(pkg.version);
  expect(qklzl(["--version"])).toMatchObject({ code: 0, stdout: `qklzl ${pkg.version}\n` });
});

test("a client command against a closed port fails with exit 1 and says why", () => {
  const { code, stderr } = qklzl(["kv", "get", "k", "--addr", "127.0.0.1:1", "--timeout", "2s"]);
  expect(code).toBe(1);
  expect(stderr).toMatch(/^qklzl: cannot reach qklzl node at http:\/\/127\.0\.0\.1:1\//);
});
