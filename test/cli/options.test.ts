import { no_tls } from "../../src/node/tls/files.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeOptionsFromFlags, type StartFlags } from "../../src/cli/options.ts";
import { parseBytes, parseDuration, parseHostPort, parseInteger } from "../../src/cli/parse.ts";
import { isUsageError } from "../../src/cli/usage_error.ts";
import { limits } from "../../src/shared/limits.ts";

const root = mkdtempSync(join(tmpdir(), "qklzl-cli-options-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const fresh = join(root, "fresh"); // does not exist
const empty = join(root, "empty");
const used = join(root, "used");
const file = join(root, "file");
mkdirSync(empty);
mkdirSync(used);
writeFileSync(join(used, "meta.json"), "{}");
writeFileSync(file, "x");

const base: StartFlags = { id: "1", "data-dir": fresh, bootstrap: true, "raft-addr": "127.0.0.1:12001", "http-addr": "127.0.0.1:8001" };

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isUsageError(error)) return error.message;
    throw error;
  }
  throw new Error("expected a UsageError");
}

describe("nodeOptionsFromFlags", () => {
  test("the original design's node 1 line gives the documented defaults", () => {
    expect(nodeOptionsFromFlags(base)).toEqual({
      id: 1,
      dataDir: fresh,
      raftAddr: "127.0.0.1:12001",
      advertiseRaftAddr: null,
      httpAddr: "127.0.0.1:8001",
      grpcAddr: null,
      bootstrap: true,
      join: null,
      heartbeatMs: 100,
      electionMs: 1000,
      snapshotEntries: 100000,
      snapshotBytes: 256 * 1024 * 1024,
      trailingEntries: 5000,
      requestTimeoutMs: 5000,
      learnerTimeoutMs: 30000,
      maxKeyBytes: 4096,
      maxValueBytes: 1048576,
      maxBodyBytes: 2097152,
      segmentBytes: 64 * 1024 * 1024,
      tls: no_tls,
      autoCompaction: { mode: "revision", revisions: 100_000 },
      maxTxnOps: 128,
      quotaBackendBytes: 0,
      corruptCheckIntervalMs: 0,
    });
  });

  test("--quota-backend-bytes takes a size (0: the default from free memory and disk); --corrupt-check-interval a duration (0: off)", () => {
    const given = nodeOptionsFromFlags({ ...base, "quota-backend-bytes": "2GiB", "corrupt-check-interval": "5m" });
    expect([given.quotaBackendBytes, given.corruptCheckIntervalMs]).toEqual([2 * 1024 ** 3, 300_000]);
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "corrupt-check-interval": "often" }))).toContain("--corrupt-check-interval must be a duration");
  });

  test("--grpc-addr turns the etcd endpoint on; it must not reuse the raft or HTTP address", () => {
    expect(nodeOptionsFromFlags({ ...base, "grpc-addr": "http://127.0.0.1:2379" }).grpcAddr).toBe("127.0.0.1:2379");
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "grpc-addr": "127.0.0.1:8001" }))).toBe(
      "--grpc-addr 127.0.0.1:8001 must differ from --raft-addr and --http-addr",
    );
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "grpc-addr": "2379" }))).toContain("--grpc-addr must be host:port");
  });

  test("join and tuning flags are read", () => {
    const options = nodeOptionsFromFlags({
      ...base,
      bootstrap: false,
      "http-addr": "127.0.0.1:8004",
      join: "http://127.0.0.1:8001/",
      "heartbeat-ms": "50",
      "election-ms": "300",
      "snapshot-entries": "1000",
      "segment-bytes": "1MiB",
    });
    expect(options.join).toBe("127.0.0.1:8001");
    expect(options.bootstrap).toBe(false);
    expect([options.heartbeatMs, options.electionMs, options.snapshotEntries, options.segmentBytes]).toEqual([50, 300, 1000, 1048576]);
  });

  test("--advertise-raft-addr is read and checked like the other addresses", () => {
    expect(nodeOptionsFromFlags({ ...base, "advertise-raft-addr": "127.0.0.1:13001" }).advertiseRaftAddr).toBe("127.0.0.1:13001");
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "advertise-raft-addr": "nope" }))).toContain("--advertise-raft-addr must be host:port");
  });

  test("restart on existing state needs neither --bootstrap nor --join", () => {
    expect(nodeOptionsFromFlags({ ...base, "data-dir": used, bootstrap: false }).dataDir).toBe(used);
  });

  const refused: [string, StartFlags, string][] = [
    ["non-numeric id", { ...base, id: "one" }, "--id must be an integer"],
    ["zero id", { ...base, id: "0" }, "--id must be an integer >= 1"],
    ["negative id", { ...base, id: "-1" }, "--id must be an integer"],
    ["missing id", { ...base, id: undefined }, "missing --id"],
    ["missing data dir", { ...base, "data-dir": undefined }, "missing --data-dir"],
    ["empty data dir flag", { ...base, "data-dir": "" }, "missing --data-dir"],
    ["data dir is a file", { ...base, "data-dir": file }, "is not a directory"],
    ["empty data dir without intent", { ...base, "data-dir": empty, bootstrap: false }, "is empty: pass --bootstrap"],
    ["absent data dir without intent", { ...base, bootstrap: false }, "does not exist"],
    ["unparsable raft addr", { ...base, "raft-addr": "localhost" }, "--raft-addr must be host:port"],
    ["port out of range", { ...base, "http-addr": "127.0.0.1:70000" }, "--http-addr must be host:port"],
    ["port zero", { ...base, "http-addr": "127.0.0.1:0" }, "--http-addr must be host:port"],
    ["missing raft addr", { ...base, "raft-addr": undefined }, "missing --raft-addr"],
    ["same raft and http addr", { ...base, "http-addr": "127.0.0.1:12001" }, "must differ"],
    ["bootstrap and join", { ...base, join: "127.0.0.1:8002" }, "exclude each other"],
    ["join itself", { ...base, bootstrap: false, join: "127.0.0.1:8001" }, "own --http-addr"],
    ["bad join addr", { ...base, bootstrap: false, join: "nowhere" }, "--join must be host:port"],
    ["election not above heartbeat", { ...base, "heartbeat-ms": "600", "election-ms": "1000" }, "at least twice"],
    ["bad segment size", { ...base, "segment-bytes": "64 parsecs" }, "--segment-bytes must be a size"],
    ["body smaller than key + value", { ...base, "max-body-bytes": "1000" }, "--max-body-bytes"],
  ];
  for (const [name, flags, message] of refused) {
    test(`refuses ${name}`, () => {
      expect(usageMessage(() => nodeOptionsFromFlags(flags))).toContain(message);
    });
  }
});

describe("value parsers", () => {
  test("parseHostPort", () => {
    expect(parseHostPort("a", "127.0.0.1:8001")).toBe("127.0.0.1:8001");
    expect(parseHostPort("a", "localhost:80")).toBe("localhost:80");
    expect(parseHostPort("a", "[::1]:9000")).toBe("[::1]:9000");
    expect(parseHostPort("a", "http://node-1.example:8001")).toBe("node-1.example:8001");
    for (const bad of ["", ":8001", "host:", "host:port", "a b:1", "::1:80", "127.0.0.1:123456"]) {
      expect(usageMessage(() => parseHostPort("a", bad))).toContain("--a must be host:port");
    }
  });

  test("parseInteger", () => {
    expect(parseInteger("n", "42", 1)).toBe(42);
    expect(parseInteger("n", "0", 0)).toBe(0);
    expect(usageMessage(() => parseInteger("n", "4.2", 1))).toContain("--n must be an integer >= 1");
    expect(usageMessage(() => parseInteger("n", "1e3", 1))).toContain("--n");
    expect(usageMessage(() => parseInteger("n", "99999999999999999999", 1))).toContain("--n");
    expect(usageMessage(() => parseInteger("n", "9", 1, 5))).toContain("in 1..5");
  });

  test("parseDuration", () => {
    expect([parseDuration("t", "250"), parseDuration("t", "250ms"), parseDuration("t", "5s"), parseDuration("t", "1.5s"), parseDuration("t", "2m")]).toEqual([250, 250, 5000, 1500, 120000]);
    for (const bad of ["", "0", "-1", "5h", "fast"]) expect(usageMessage(() => parseDuration("t", bad))).toContain("--t must be a duration");
  });

  test("parseBytes", () => {
    expect([parseBytes("b", "4096", 1), parseBytes("b", "4KiB", 1), parseBytes("b", "64MiB", 1), parseBytes("b", "1MB", 1), parseBytes("b", "1gib", 1)]).toEqual([4096, 4096, 67108864, 1000000, 1073741824]);
    for (const bad of ["", "0", "12 apples", "-4"]) expect(usageMessage(() => parseBytes("b", bad, 1))).toContain("--b must be a size");
  });

  test("--auto-compaction-mode / --auto-compaction-retention (etcd's names) and --max-txn-ops", () => {
    const opts = (flags: Partial<StartFlags>) => nodeOptionsFromFlags({ ...base, ...flags });
    expect(opts({}).autoCompaction).toEqual({ mode: "revision", revisions: limits.history_revisions_default });
    expect(opts({}).maxTxnOps).toBe(128);
    expect(opts({ "auto-compaction-retention": "1000" }).autoCompaction).toEqual({ mode: "revision", revisions: 1000 });
    expect(opts({ "auto-compaction-mode": "revision", "auto-compaction-retention": "0" }).autoCompaction).toEqual({ mode: "revision", revisions: 0 });
    const periodic = (retention: string) => opts({ "auto-compaction-mode": "periodic", "auto-compaction-retention": retention }).autoCompaction;
    expect([periodic("1h"), periodic("30m"), periodic("10s"), periodic("2"), periodic("1.5h")]).toEqual(
      [3_600_000, 1_800_000, 10_000, 7_200_000, 5_400_000].map((retentionMs) => ({ mode: "periodic", retentionMs })),
    );
    expect(usageMessage(() => opts({ "auto-compaction-mode": "periodic" }))).toContain("needs --auto-compaction-retention");
    expect(usageMessage(() => opts({ "auto-compaction-mode": "periodic", "auto-compaction-retention": "10ms" }))).toContain("at least 1s");
    expect(usageMessage(() => opts({ "auto-compaction-mode": "periodic", "auto-compaction-retention": "soon" }))).toContain("--auto-compaction-retention");
    expect(usageMessage(() => opts({ "auto-compaction-mode": "hourly" }))).toContain("revision or periodic");
    expect(usageMessage(() => opts({ "auto-compaction-retention": "1h" }))).toContain("--auto-compaction-retention must be an integer");
    expect(opts({ "max-txn-ops": "1000" }).maxTxnOps).toBe(1000);
    expect(usageMessage(() => opts({ "max-txn-ops": "0" }))).toContain("--max-txn-ops");
  });
});

describe("TLS flags", () => {
  const file = join(fresh, "..", "tls-flag-file.pem");
  writeFileSync(file, "not read here: the node reads and checks the files");
  test("paths are kept for the node (which reads them, and again on SIGHUP)", () => {
    const tls = nodeOptionsFromFlags({ ...base, "cert-file": file, "key-file": file, "trusted-ca-file": file, "client-cert-auth": true, "peer-cert-file": file, "peer-key-file": file, "peer-trusted-ca-file": file }).tls;
    expect(tls).toEqual({ certFile: file, keyFile: file, trustedCaFile: file, clientCertAuth: true, peerCertFile: file, peerKeyFile: file, peerTrustedCaFile: file });
  });
  test("incomplete or contradictory combinations are usage errors", () => {
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "cert-file": file }))).toContain("--cert-file and --key-file go together");
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "cert-file": file, "key-file": file, "client-cert-auth": true }))).toContain("--client-cert-auth needs --trusted-ca-file");
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "peer-cert-file": file, "peer-key-file": file }))).toContain("go together (peer TLS is always mutual)");
    expect(usageMessage(() => nodeOptionsFromFlags({ ...base, "cert-file": `${file}.missing`, "key-file": file }))).toContain("no such file");
  });
});
