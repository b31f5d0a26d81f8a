// examples.ts: the EXAMPLES block appended to --help (citty renders flags, not how they fit together).

const examples: Record<string, string[]> = {
  "": [
    "qklzl -id 1 -data-dir ./data1 -bootstrap -raft-addr 127.0.0.1:12001 -http-addr 127.0.0.1:8001",
    "qklzl -id 2 -data-dir ./data2 -join 127.0.0.1:8001 -raft-addr 127.0.0.1:12002 -http-addr 127.0.0.1:8002",
    "qklzl status",
    "qklzl kv put greeting 'hello world'",
    "qklzl kv get greeting --addr 127.0.0.1:8002",
  ],
  start: [
    "qklzl start --id 1 --data-dir ./data1 --bootstrap --raft-addr 127.0.0.1:12001 --http-addr 127.0.0.1:8001",
    "qklzl -id 2 -data-dir ./data2 -join 127.0.0.1:8001 -raft-addr 127.0.0.1:12002 -http-addr 127.0.0.1:8002",
    "qklzl -id 1 -data-dir ./data1 -raft-addr 127.0.0.1:12001 -http-addr 127.0.0.1:8001    # restart from existing data",
  ],
  join: ["qklzl join 127.0.0.1:8001 --id 4 --data-dir ./data4 --raft-addr 127.0.0.1:12004 --http-addr 127.0.0.1:8004"],
  status: ["qklzl status", "qklzl status --addr 127.0.0.1:8002 --json"],
  kv: ["qklzl kv put k v", "qklzl kv get k --addr 127.0.0.1:8003", "qklzl kv get k --consistency stale", "qklzl kv delete k", "qklzl kv list app/"],
  "kv get": ["qklzl kv get k", "qklzl kv get k --addr 127.0.0.1:8003 --consistency stale", "qklzl kv get k --revision 12    # the value at revision 12"],
  "kv put": [
    "qklzl kv put k 'some value'",
    "qklzl kv put k -- -5    # a value starting with '-'",
    "qklzl kv put lock me --if-absent    # create only",
    "qklzl kv put k v2 --if-mod-revision 7    # compare-and-set: 412 compare_failed if k changed since revision 7",
    "qklzl kv put k v2 --if-value v1 --prev-kv --json",
  ],
  "kv delete": ["qklzl kv delete k", "qklzl kv delete lock --if-value me"],
  "kv list": ["qklzl kv list app/", "qklzl kv list app/ --limit 10 --keys-only", "qklzl kv list '' --revision 40 -w simple", "qklzl kv list app/ --json"],
  txn: [
    'echo \'{"compare":[{"key":"k","target":"value","result":"=","value":"v1"}],"success":[{"put":{"key":"k","value":"v2"}}],"failure":[{"range":{"key":"k"}}]}\' | qklzl txn',
    "qklzl txn ./cas.json --json",
  ],
  compact: ["qklzl compact 1200"],
  members: ["qklzl members --addr 127.0.0.1:8002"],
  leave: [
    "qklzl leave 3",
    "qklzl leave --id 3 --addr 127.0.0.1:8002",
    "# reset node 3 (a corrupt or lost data dir): remove it first, then wipe and join anew; it ends a voter",
    "qklzl leave 3 && rm -rf ./data3 && qklzl -id 3 -data-dir ./data3 -join 127.0.0.1:8001 -raft-addr 127.0.0.1:12003 -http-addr 127.0.0.1:8003",
  ],
  "transfer-leader": ["qklzl transfer-leader --to 2"],
  snapshot: ["qklzl snapshot --addr 127.0.0.1:8002"],
  "snapshot save": ["qklzl snapshot save backup.qklzl --addr 127.0.0.1:8002"],
  "snapshot status": ["qklzl snapshot status backup.qklzl", "qklzl snapshot status backup.qklzl --json"],
  "snapshot restore": [
    "qklzl snapshot restore backup.qklzl --data-dir ./restored1 --id 1 --raft-addr 127.0.0.1:12001 --http-addr 127.0.0.1:8001",
    "# then, without -bootstrap:",
    "qklzl -id 1 -data-dir ./restored1 -raft-addr 127.0.0.1:12001 -http-addr 127.0.0.1:8001",
  ],
  check: ["qklzl check", "qklzl check --wait 30s"],
};

/** examplesFor renders the EXAMPLES block of a command path ("kv put"), or "" when there is none. */
export function examplesFor(path: string): string {
  const lines = examples[path];
  if (lines === undefined) return "";
  return `\nEXAMPLES\n\n${lines.map((line) => `  ${line}`).join("\n")}\n`;
}
