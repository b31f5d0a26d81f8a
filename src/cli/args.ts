import type { ArgsDef } from "citty";

// args.ts holds every command's flag definitions and nothing heavy: main.ts reads them all to build the
// Go-style flag normalizer, and client commands must start fast.

/** clientArgs: the flags every client command shares. */
export const clientArgs = {
  addr: { type: "string", description: "HTTP address of any member (host:port)", default: "127.0.0.1:8001", valueHint: "host:port" },
  timeout: { type: "string", description: "give up after this long (ms, or with a unit: 500ms, 5s)", default: "6000", valueHint: "duration" },
  cacert: { type: "string", description: "verify the node's TLS certificate with this CA (PEM); a bare --addr then means https", valueHint: "file" },
  cert: { type: "string", description: "client certificate (PEM) for a node started with --client-cert-auth", valueHint: "file" },
  key: { type: "string", description: "private key (PEM) of --cert", valueHint: "file" },
  user: { type: "string", description: "authenticate as NAME (password after a colon, else $QKLZL_PASSWORD, else asked)", valueHint: "name[:password]" },
} as const satisfies ArgsDef;

/** nodeArgs: the flags of `qklzl start` (and `qklzl join`); names and defaults follow the original design. */
export const nodeArgs = {
  id: { type: "string", description: "node id, a positive integer unique in the cluster", valueHint: "n" },
  "data-dir": { type: "string", description: "directory holding this node's log, snapshots and metadata", valueHint: "dir" },
  bootstrap: { type: "boolean", description: "on an empty data dir: create a new one-node cluster; on existing state: become the designated leader" },
  "force-new-cluster": { type: "boolean", description: "disaster recovery: start this member's existing data as a one-voter cluster of this node alone, keeping its data (the other members are dropped)" },
  join: { type: "string", description: "on an empty data dir: join the cluster through this member's HTTP address", valueHint: "host:port" },
  "raft-addr": { type: "string", description: "address for peer (Raft) traffic", valueHint: "host:port" },
  "advertise-raft-addr": { type: "string", description: "Raft address peers are told to dial (a proxy or NAT in front of --raft-addr); default --raft-addr", valueHint: "host:port" },
  "http-addr": { type: "string", description: "address for the HTTP API", valueHint: "host:port" },
  "grpc-addr": { type: "string", description: "address for the etcd v3 gRPC API (etcdctl, etcd clients); off unless given", valueHint: "host:port" },
  "heartbeat-ms": { type: "string", description: "leader heartbeat interval", default: "100", valueHint: "ms" },
  "election-ms": { type: "string", description: "minimum election timeout (the real one is random in [t, 2t))", default: "1000", valueHint: "ms" },
  "snapshot-entries": { type: "string", description: "take a snapshot every this many applied entries", default: "100000", valueHint: "n" },
  "snapshot-bytes": { type: "string", description: "...or once the entries applied since the last snapshot hold this many bytes", default: "256MiB", valueHint: "bytes" },
  "trailing-entries": { type: "string", description: "log entries kept behind a snapshot for slow followers", default: "5000", valueHint: "n" },
  "request-timeout-ms": { type: "string", description: "deadline of every client request inside the node", default: "5000", valueHint: "ms" },
  "learner-timeout-ms": { type: "string", description: "report a learner the leader has not heard from this long", default: "30000", valueHint: "ms" },
  "max-key-bytes": { type: "string", description: "largest key accepted", default: "4096", valueHint: "bytes" },
  "max-value-bytes": { type: "string", description: "largest value accepted", default: "1048576", valueHint: "bytes" },
  "max-body-bytes": { type: "string", description: "largest HTTP request body accepted", default: "2097152", valueHint: "bytes" },
  "segment-bytes": { type: "string", description: "log segment size (bytes, or 64MiB)", default: "64MiB", valueHint: "bytes" },
  "cert-file": { type: "string", description: "TLS certificate of the HTTP API and the etcd gRPC endpoint (PEM); also this node's client certificate for its calls to members", valueHint: "file" },
  "key-file": { type: "string", description: "private key of --cert-file (PEM)", valueHint: "file" },
  "trusted-ca-file": { type: "string", description: "CA (PEM) for client certificates (--client-cert-auth) and for other members' HTTP certificates", valueHint: "file" },
  "client-cert-auth": { type: "boolean", description: "HTTP API and gRPC endpoint: refuse clients without a certificate from --trusted-ca-file (mutual TLS)" },
  "peer-cert-file": { type: "string", description: "TLS certificate for Raft links (PEM); peer TLS is always mutual", valueHint: "file" },
  "peer-key-file": { type: "string", description: "private key of --peer-cert-file (PEM)", valueHint: "file" },
  "peer-trusted-ca-file": { type: "string", description: "CA (PEM) peer certificates must come from; others are refused at the handshake", valueHint: "file" },
  "auto-compaction-mode": { type: "string", description: "history retention: revision (keep the last N revisions) or periodic (keep a duration)", default: "revision", valueHint: "revision|periodic" },
  "auto-compaction-retention": { type: "string", description: "revision mode: revisions to keep (0 = all; default 100000); periodic mode: a duration (1h, 30m, 10s; a bare number is hours)", valueHint: "n|duration" },
  "max-txn-ops": { type: "string", description: "most operations (and compares) in one txn", default: "128", valueHint: "n" },
  "quota-backend-bytes": { type: "string", description: "store size past which the leader raises the NOSPACE alarm and writes are refused (0 = min(free memory / 2, free disk / 4), within 64 MiB..8 GiB)", default: "0", valueHint: "bytes" },
  "corrupt-check-interval": { type: "string", description: "how often the leader compares the members' state hashes and raises CORRUPT on a divergence (0 = off)", default: "0", valueHint: "duration" },
} as const satisfies ArgsDef;

export const startArgs = { ...nodeArgs } as const satisfies ArgsDef;

/** joinArgs: `qklzl join ADDR ...` is `qklzl start --join ADDR ...`. */
export const joinArgs = {
  address: { type: "positional", description: "HTTP address of any live member (host:port)", required: false },
  ...nodeArgs,
} as const satisfies ArgsDef;

export const statusArgs = {
  ...clientArgs,
  json: { type: "boolean", description: "print JSON instead of a table" },
} as const satisfies ArgsDef;

export const consistencyArg = {
  consistency: { type: "enum", options: ["linearizable", "stale"], description: "read consistency", default: "linearizable" },
} as const satisfies ArgsDef;

export const revisionArg = {
  revision: { type: "string", description: "read at this past revision (from history; 0 = current)", valueHint: "rev" },
} as const satisfies ArgsDef;

export const kvGetArgs = {
  // KEY, not key: --key is the client TLS key (clientArgs); usage shows the positional as [KEY] either way.
  KEY: { type: "positional", description: "the key", required: false },
  ...clientArgs,
  ...consistencyArg,
  ...revisionArg,
  json: { type: "boolean", description: "print the JSON body instead of the bare value" },
} as const satisfies ArgsDef;

/** writeArgs: what every write shares: an idempotency id (a retry with it never applies twice) and --json. */
export const writeArgs = {
  "request-id": { type: "string", description: "idempotency id (default: a new hyperid; the CLI's own retries reuse it)", valueHint: "id" },
  json: { type: "boolean", description: "print the JSON answer" },
} as const satisfies ArgsDef;

export const kvPutArgs = {
  KEY: { type: "positional", description: "the key", required: false },
  value: { type: "positional", description: "the value (one starting with '-' goes after --)", required: false },
  ...clientArgs,
  ...writeArgs,
  "if-mod-revision": { type: "string", description: "write only if the key's mod_revision is N (compare-and-set)", valueHint: "n" },
  "if-absent": { type: "boolean", description: "write only if the key does not exist (create only)" },
  "if-value": { type: "string", description: "write only if the key's value is X", valueHint: "x" },
  "prev-kv": { type: "boolean", description: "print the previous kv too" },
  lease: { type: "string", description: "attach the key to lease ID (deleted when the lease is revoked or expires)", valueHint: "id" },
} as const satisfies ArgsDef;

export const kvDeleteArgs = {
  KEY: { type: "positional", description: "the key", required: false },
  ...clientArgs,
  ...writeArgs,
  "if-mod-revision": kvPutArgs["if-mod-revision"],
  "if-value": kvPutArgs["if-value"],
} as const satisfies ArgsDef;

export const kvListArgs = {
  prefix: { type: "positional", description: "list the keys starting with this (\"\" = every key)", required: false },
  ...clientArgs,
  ...consistencyArg,
  ...revisionArg,
  limit: { type: "string", description: "at most this many keys (the answer says when there are more)", valueHint: "n" },
  "keys-only": { type: "boolean", description: "keys without values" },
  w: { type: "string", description: "output format: table (default), simple (key, then value, per key) or json", valueHint: "format" },
  json: { type: "boolean", description: "print the JSON answer (= -w json)" },
} as const satisfies ArgsDef;

export const txnArgs = {
  file: { type: "positional", description: "JSON file with {compare, success, failure} (- or none: stdin)", required: false },
  ...clientArgs,
  ...writeArgs,
} as const satisfies ArgsDef;

export const compactArgs = {
  rev: { type: "positional", description: "compact history below this revision", required: false },
  ...clientArgs,
  json: writeArgs.json,
} as const satisfies ArgsDef;

export const watchArgs = {
  key: { type: "positional", description: "the key (or --prefix)", required: false },
  prefix: { type: "string", description: "watch every key starting with this", valueHint: "prefix" },
  "range-end": { type: "string", description: "with KEY: watch [KEY, END)", valueHint: "key" },
  "start-revision": { type: "string", description: "replay history from this revision first", valueHint: "rev" },
  "prev-kv": { type: "boolean", description: "show each event's previous value" },
  filter: { type: "enum", options: ["noput", "nodelete"], description: "leave out puts or deletes" },
  addr: { type: "string", description: "HTTP addresses of members, comma-separated (more are learned from /status)", default: "127.0.0.1:8001", valueHint: "host:port,..." },
  json: { type: "boolean", description: "print each event as JSON" },
} as const satisfies ArgsDef;

export const membersArgs = { ...clientArgs, json: statusArgs.json } as const satisfies ArgsDef;

export const leaveArgs = {
  node: { type: "positional", description: "id of the member to remove (or --id)", required: false },
  id: { type: "string", description: "id of the member to remove", valueHint: "n" },
  ...clientArgs,
} as const satisfies ArgsDef;

export const transferArgs = {
  to: { type: "string", description: "id of the voter that should lead", valueHint: "n" },
  ...clientArgs,
} as const satisfies ArgsDef;

export const snapshotArgs = { ...clientArgs } as const satisfies ArgsDef;

/** snapshot{Save,Status,Restore}Args: `qklzl snapshot save FILE`, `status FILE`, `restore FILE --data-dir D ...`. */
export const snapshotSaveArgs = {
  file: { type: "positional", description: "where to write the backup (written as FILE.part, renamed once verified)", required: true },
  ...clientArgs,
  timeout: { type: "string", description: "give up when no bytes arrive for this long (ms, or 5s, 1m)", default: "30s", valueHint: "duration" },
} as const satisfies ArgsDef;

export const snapshotStatusArgs = {
  file: { type: "positional", description: "a backup written by `qklzl snapshot save` (or etcdctl snapshot save against qklzl)", required: true },
  json: { type: "boolean", description: "print the summary as JSON" },
} as const satisfies ArgsDef;

export const snapshotRestoreArgs = {
  file: { type: "positional", description: "the backup to restore", required: true },
  "data-dir": { type: "string", description: "the new node's data directory (must be absent or empty)", valueHint: "dir" },
  id: { type: "string", description: "the new node's id", valueHint: "n" },
  "raft-addr": { type: "string", description: "the new node's Raft address (as it will start with)", valueHint: "host:port" },
  "http-addr": { type: "string", description: "the new node's HTTP address (as it will start with)", valueHint: "host:port" },
  "initial-members": {
    type: "string",
    description: "every voter of the restored cluster, this node included (run restore once per member with the same list)",
    valueHint: "ID=RAFT/HTTP,...",
  },
} as const satisfies ArgsDef;

export const checkArgs = {
  ...clientArgs,
  wait: { type: "string", description: "how long to wait for all members to reach a common applied index", default: "10s", valueHint: "duration" },
  json: statusArgs.json,
} as const satisfies ArgsDef;

/** lease*Args: `qklzl lease grant TTL | revoke ID | keep-alive ID [--once] | ttl ID [--keys] | list`. */
export const leaseGrantArgs = {
  ttl: { type: "positional", description: "time to live in seconds (raised to the cluster's minimum)", required: false },
  id: { type: "string", description: "the lease id to use (default: the leader chooses one)", valueHint: "n" },
  ...clientArgs,
} as const satisfies ArgsDef;

export const leaseIdArgs = {
  lease: { type: "positional", description: "the lease id", required: false },
  ...clientArgs,
} as const satisfies ArgsDef;

export const leaseKeepAliveArgs = {
  ...leaseIdArgs,
  once: { type: "boolean", description: "send one keepalive and exit (default: keep it alive until Ctrl-C)" },
} as const satisfies ArgsDef;

export const leaseTtlArgs = {
  ...leaseIdArgs,
  keys: { type: "boolean", description: "list the keys attached to the lease" },
  json: { type: "boolean", description: "print the JSON answer" },
} as const satisfies ArgsDef;

export const leaseListArgs = { ...clientArgs, json: leaseTtlArgs.json } as const satisfies ArgsDef;

/** lockArgs: `qklzl lock NAME [--ttl S] -- CMD...`. */
export const lockArgs = {
  name: { type: "positional", description: "the lock's name (its keys are NAME/<lease id>)", required: false },
  ttl: { type: "string", description: "the holder's lease TTL in seconds: a holder that dies releases after it", default: "10", valueHint: "s" },
  ...clientArgs,
  addr: { ...clientArgs.addr, description: "HTTP addresses of members, comma-separated: the next one is used when one dies", valueHint: "host:port,..." },
} as const satisfies ArgsDef;

/** electArgs: `qklzl elect NAME PROPOSAL [--ttl S]` or `qklzl elect NAME --listen`. */
export const electArgs = {
  name: { type: "positional", description: "the election's name (its keys are NAME/<lease id>)", required: false },
  proposal: { type: "positional", description: "the value this candidate proposes (shown to listeners once elected)", required: false },
  listen: { type: "boolean", description: "print the leader's proposal whenever it changes, until Ctrl-C" },
  ttl: lockArgs.ttl,
  ...clientArgs,
  addr: lockArgs.addr,
} as const satisfies ArgsDef;

/** alarmListArgs / alarmDisarmArgs: `qklzl alarm list [--json]`, `qklzl alarm disarm [--member N] [--type T] [--json]`. */
export const alarmListArgs = {
  ...clientArgs,
  json: { type: "boolean", description: "print the answer as JSON" },
} as const satisfies ArgsDef;

export const alarmDisarmArgs = {
  ...alarmListArgs,
  member: { type: "string", description: "disarm only this member's alarms (default: every member's)", valueHint: "id" },
  type: { type: "string", description: "disarm only this type: NOSPACE or CORRUPT (default: both)", valueHint: "NOSPACE|CORRUPT" },
} as const satisfies ArgsDef;

/** auth*Args: `qklzl user …`, `qklzl role …`, `qklzl auth enable|disable|status` (README "Authentication"). */
export const authNameArgs = {
  name: { type: "positional", description: "the user or role name (user add / passwd: NAME[:PASSWORD])", required: false },
  json: { type: "boolean", description: "print the JSON answer" },
  ...clientArgs,
} as const satisfies ArgsDef;

export const authGrantRoleArgs = {
  name: { type: "positional", description: "the user", required: false },
  role: { type: "positional", description: "the role", required: false },
  ...clientArgs,
} as const satisfies ArgsDef;

export const authPermissionArgs = {
  role: { type: "positional", description: "the role", required: false },
  type: { type: "positional", description: "grant-permission: read, write or readwrite", required: false },
  pkey: { type: "positional", description: "the key (the first key with --from-key); absent with --prefix", required: false },
  "range-end": { type: "positional", description: "the end of the range [KEY, RANGE_END) (optional)", required: false },
  prefix: { type: "string", description: "instead of KEY: every key starting with this", valueHint: "prefix" },
  "from-key": { type: "boolean", description: "the permission covers every key >= KEY" },
  ...clientArgs,
} as const satisfies ArgsDef;

export const authRevokePermissionArgs = {
  role: authPermissionArgs.role,
  pkey: authPermissionArgs.pkey,
  "range-end": authPermissionArgs["range-end"],
  prefix: authPermissionArgs.prefix,
  "from-key": authPermissionArgs["from-key"],
  ...clientArgs,
} as const satisfies ArgsDef;

export const authPlainArgs = { ...clientArgs, json: authNameArgs.json } as const satisfies ArgsDef;

/** allArgs: every definition, for the flag normalizer (legacy_flags.ts). */
export const allArgs: ArgsDef[] = [
  clientArgs, nodeArgs, startArgs, joinArgs, statusArgs, kvGetArgs, kvPutArgs, kvDeleteArgs, kvListArgs, txnArgs, compactArgs,
  membersArgs, leaveArgs, transferArgs, snapshotArgs, snapshotSaveArgs, snapshotStatusArgs, snapshotRestoreArgs, checkArgs, watchArgs,
  leaseGrantArgs, leaseIdArgs, leaseKeepAliveArgs, leaseTtlArgs, leaseListArgs, lockArgs, electArgs, alarmListArgs, alarmDisarmArgs,
  authNameArgs, authGrantRoleArgs, authPermissionArgs, authRevokePermissionArgs, authPlainArgs,
];
