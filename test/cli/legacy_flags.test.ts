import { describe, expect, test } from "bun:test";
import { allArgs } from "../../src/cli/args.ts";
import { flagTable, normalizeArgv } from "../../src/cli/legacy_flags.ts";

const table = flagTable(allArgs);
const goNode1 = "-id 1 -data-dir ./data1 -bootstrap -raft-addr 127.0.0.1:12001 -http-addr 127.0.0.1:8001";
const goNode2 = "-id 2 -data-dir ./data2 -join 127.0.0.1:8001 -raft-addr 127.0.0.1:12002 -http-addr 127.0.0.1:8002";

// Each row: the command line as typed, then what citty must receive.
const cases: [string, string][] = [
  [goNode1, "start --id 1 --data-dir ./data1 --bootstrap --raft-addr 127.0.0.1:12001 --http-addr 127.0.0.1:8001"],
  [goNode2, "start --id 2 --data-dir ./data2 --join 127.0.0.1:8001 --raft-addr 127.0.0.1:12002 --http-addr 127.0.0.1:8002"],
  ["--id 1 --data-dir d --bootstrap", "start --id 1 --data-dir d --bootstrap"],
  ["-id=3 -data-dir=./d3 -bootstrap=false", "start --id=3 --data-dir=./d3 --bootstrap=false"],
  ["--id=3 --data-dir=./d3", "start --id=3 --data-dir=./d3"],
  ["start -id 1 -data-dir d -bootstrap", "start --id 1 --data-dir d --bootstrap"],
  ["-id 1 -data-dir d -auto-compaction-mode periodic -auto-compaction-retention 1h -max-txn-ops 256", "start --id 1 --data-dir d --auto-compaction-mode periodic --auto-compaction-retention 1h --max-txn-ops 256"],
  ["join 127.0.0.1:8001 -id 4 -data-dir d4", "join 127.0.0.1:8001 --id 4 --data-dir d4"],
  ["kv put -addr 127.0.0.1:8002 k v", "kv put --addr 127.0.0.1:8002 k v"],
  // A value is never rewritten, even when it looks like a flag.
  ["kv put k v -addr -id", "kv put k v --addr -id"],
  // Everything after -- is left alone.
  ["kv put k -- -id", "kv put k -- -id"],
  // Short and unknown flags pass through: citty and the unknown-flag check deal with them.
  ["kv get k -h", "kv get k -h"],
  ["status -x 1 -nonsense", "status -x 1 -nonsense"],
  ["leave -id 3", "leave --id 3"],
  ["-id 1 -data-dir d -grpc-addr 127.0.0.1:2379", "start --id 1 --data-dir d --grpc-addr 127.0.0.1:2379"],
  ["transfer-leader -to 2", "transfer-leader --to 2"],
  ["status -json", "status --json"],
  ["-h", "-h"],
  ["--help", "--help"],
  ["-version", "--version"],
  ["", ""],
];

describe("normalizeArgv", () => {
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => {
      const argv = input === "" ? [] : input.split(" ");
      expect(normalizeArgv(argv, table).join(" ")).toBe(expected);
    });
  }

  test("does not modify its input", () => {
    const argv = goNode1.split(" ");
    const copy = [...argv];
    normalizeArgv(argv, table);
    expect(argv).toEqual(copy);
  });
});

describe("flagTable", () => {
  test("holds every start flag with its kind", () => {
    expect(table.get("data-dir")).toBe("string");
    expect(table.get("bootstrap")).toBe("boolean");
    expect(table.get("json")).toBe("boolean");
    expect(table.get("KEY")).toBeUndefined(); // positional, not a flag
    expect(table.get("key")).toBe("string"); // --key: the CLI's client TLS key
    for (const name of ["cert-file", "key-file", "trusted-ca-file", "peer-cert-file", "peer-key-file", "peer-trusted-ca-file", "cacert", "cert"]) {
      expect(table.get(name)).toBe("string");
    }
    expect(table.get("client-cert-auth")).toBe("boolean");
  });

  test("Go-style TLS flags are rewritten like the others", () => {
    expect(normalizeArgv(["-id", "1", "-peer-cert-file", "n1.crt", "-client-cert-auth", "-cert-file=c.pem"], table)).toEqual([
      "start", "--id", "1", "--peer-cert-file", "n1.crt", "--client-cert-auth", "--cert-file=c.pem",
    ]);
  });

  test("refuses a name defined as both a value flag and a boolean", () => {
    expect(() => flagTable([{ x: { type: "string" } }, { x: { type: "boolean" } }])).toThrow("both");
  });
});
