import { existsSync, readdirSync, statSync } from "node:fs";
import { tlsFilesProblem, type NodeTlsFiles } from "../node/tls/files.ts";
import { defaultAutoCompaction, type AutoCompaction } from "../kv/index.ts";
import type { NodeOptions } from "../node/types.ts";
import { limits } from "../shared/limits.ts";
import { parseBytes, parseDuration, parseHostPort, parseInteger } from "./parse.ts";
import { UsageError } from "./usage_error.ts";

/** StartFlags: the parsed (still textual) flags of `qklzl start`, as citty hands them over. */
export interface StartFlags {
  id?: string;
  "data-dir"?: string;
  bootstrap?: boolean;
  "force-new-cluster"?: boolean;
  join?: string;
  "raft-addr"?: string;
  "advertise-raft-addr"?: string;
  "http-addr"?: string;
  "grpc-addr"?: string;
  "heartbeat-ms"?: string;
  "election-ms"?: string;
  "snapshot-entries"?: string;
  "snapshot-bytes"?: string;
  "trailing-entries"?: string;
  "request-timeout-ms"?: string;
  "learner-timeout-ms"?: string;
  "max-key-bytes"?: string;
  "max-value-bytes"?: string;
  "max-body-bytes"?: string;
  "segment-bytes"?: string;
  "cert-file"?: string;
  "key-file"?: string;
  "trusted-ca-file"?: string;
  "client-cert-auth"?: boolean;
  "peer-cert-file"?: string;
  "peer-key-file"?: string;
  "peer-trusted-ca-file"?: string;
  "auto-compaction-mode"?: string;
  "auto-compaction-retention"?: string;
  "max-txn-ops"?: string;
  "quota-backend-bytes"?: string;
  "corrupt-check-interval"?: string;
}

/**
 * nodeOptionsFromFlags validates every flag and builds NodeOptions, or throws one UsageError naming the first
 * problem. It reads the data dir only to tell an empty one (which needs --bootstrap or --join) from a restart.
 */
export function nodeOptionsFromFlags(flags: StartFlags): NodeOptions {
  if (flags.id === undefined) throw new UsageError("missing --id (a positive integer unique in the cluster)");
  const id = parseInteger("id", flags.id, 1);
  const dataDir = (flags["data-dir"] ?? "").trim();
  if (dataDir === "") throw new UsageError("missing --data-dir (the directory for this node's data)");
  if (flags["raft-addr"] === undefined) throw new UsageError("missing --raft-addr host:port (peer traffic)");
  if (flags["http-addr"] === undefined) throw new UsageError("missing --http-addr host:port (the HTTP API)");
  const raftAddr = parseHostPort("raft-addr", flags["raft-addr"]);
  const httpAddr = parseHostPort("http-addr", flags["http-addr"]);
  if (raftAddr === httpAddr) throw new UsageError(`--raft-addr and --http-addr must differ, both are ${raftAddr}`);
  const grpcAddr = flags["grpc-addr"] === undefined ? null : parseHostPort("grpc-addr", flags["grpc-addr"]);
  if (grpcAddr !== null && (grpcAddr === raftAddr || grpcAddr === httpAddr)) {
    throw new UsageError(`--grpc-addr ${grpcAddr} must differ from --raft-addr and --http-addr`);
  }
  const advertise = flags["advertise-raft-addr"];
  const advertiseRaftAddr = advertise === undefined ? null : parseHostPort("advertise-raft-addr", advertise);
  const bootstrap = flags.bootstrap === true;
  const join = flags.join === undefined ? null : parseHostPort("join", flags.join);
  if (bootstrap && join !== null) {
    throw new UsageError("--bootstrap and --join exclude each other: bootstrap a new cluster, or join an existing one");
  }
  if (join !== null && join === httpAddr) throw new UsageError(`--join ${join} is this node's own --http-addr; join through another member`);
  const forceNewCluster = flags["force-new-cluster"] === true;
  if (forceNewCluster && join !== null) throw new UsageError("--force-new-cluster and --join exclude each other: force-new-cluster starts this member's data as its own cluster");
  if (forceNewCluster && (!existsSync(dataDir) || readdirSync(dataDir).length === 0)) {
    throw new UsageError(`--force-new-cluster needs a member's existing data, and --data-dir ${dataDir} is empty or missing`);
  }
  checkDataDir(dataDir, bootstrap || join !== null);
  const heartbeatMs = parseInteger("heartbeat-ms", flags["heartbeat-ms"] ?? "100", 1);
  const electionMs = parseInteger("election-ms", flags["election-ms"] ?? "1000", 1);
  if (electionMs < 2 * heartbeatMs) {
    throw new UsageError(`--election-ms (${electionMs}) must be at least twice --heartbeat-ms (${heartbeatMs})`);
  }
  const maxKeyBytes = parseBytes("max-key-bytes", flags["max-key-bytes"] ?? "4096", 1);
  const maxValueBytes = parseBytes("max-value-bytes", flags["max-value-bytes"] ?? "1048576", 1);
  const maxBodyBytes = parseBytes("max-body-bytes", flags["max-body-bytes"] ?? "2097152", 1);
  if (maxBodyBytes <= maxKeyBytes + maxValueBytes) {
    throw new UsageError(`--max-body-bytes (${maxBodyBytes}) must exceed --max-key-bytes + --max-value-bytes (${maxKeyBytes + maxValueBytes})`);
  }
  return {
    id,
    dataDir,
    raftAddr,
    advertiseRaftAddr,
    httpAddr,
    grpcAddr,
    bootstrap,
    ...(forceNewCluster ? { forceNewCluster } : {}),
    join,
    heartbeatMs,
    electionMs,
    snapshotEntries: parseInteger("snapshot-entries", flags["snapshot-entries"] ?? "100000", 1),
    snapshotBytes: parseBytes("snapshot-bytes", flags["snapshot-bytes"] ?? "256MiB", 1),
    trailingEntries: parseInteger("trailing-entries", flags["trailing-entries"] ?? "5000", 0),
    requestTimeoutMs: parseInteger("request-timeout-ms", flags["request-timeout-ms"] ?? "5000", 1),
    learnerTimeoutMs: parseInteger("learner-timeout-ms", flags["learner-timeout-ms"] ?? "30000", 1),
    maxKeyBytes,
    maxValueBytes,
    maxBodyBytes,
    segmentBytes: parseBytes("segment-bytes", flags["segment-bytes"] ?? "64MiB", 4096),
    tls: tlsFilesFromFlags(flags),
    autoCompaction: autoCompactionFromFlags(flags["auto-compaction-mode"], flags["auto-compaction-retention"]),
    maxTxnOps: parseInteger("max-txn-ops", flags["max-txn-ops"] ?? String(limits.txn_ops_max), 1, txn_ops_flag_max),
    quotaBackendBytes: parseBytes("quota-backend-bytes", flags["quota-backend-bytes"] ?? "0", 0),
    corruptCheckIntervalMs: zeroOrDuration("corrupt-check-interval", flags["corrupt-check-interval"]),
  };
}

/** tlsFilesFromFlags: the TLS flags as paths (read by the node, and again on SIGHUP); a bad combination is a UsageError. */
function tlsFilesFromFlags(flags: StartFlags): NodeTlsFiles {
  const path = (name: keyof StartFlags): string | null => {
    const value = flags[name];
    if (value === undefined) return null;
    if (typeof value !== "string" || value.trim() === "") throw new UsageError(`--${name} needs a file path`);
    if (!existsSync(value)) throw new UsageError(`--${name} ${value}: no such file`);
    return value;
  };
  const files: NodeTlsFiles = {
    certFile: path("cert-file"),
    keyFile: path("key-file"),
    trustedCaFile: path("trusted-ca-file"),
    clientCertAuth: flags["client-cert-auth"] === true,
    peerCertFile: path("peer-cert-file"),
    peerKeyFile: path("peer-key-file"),
    peerTrustedCaFile: path("peer-trusted-ca-file"),
  };
  const problem = tlsFilesProblem(files);
  if (problem !== null) throw new UsageError(problem);
  return files;
}

/** zeroOrDuration: a duration flag where 0 (the default) means off. */
function zeroOrDuration(flag: string, raw: string | undefined): number {
  const text = (raw ?? "0").trim();
  return text === "0" || text === "0s" ? 0 : parseDuration(flag, text);
}

/** txn_ops_flag_max: --max-txn-ops above this would let one txn hold more than a log entry should. */
const txn_ops_flag_max = 100_000;

const retentionUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * autoCompactionFromFlags reads etcd's pair: revision mode takes a revision count (default the built-in
 * window); periodic mode a duration with a unit (ms, s, m, h) or a bare number of hours, as etcd.
 */
export function autoCompactionFromFlags(mode: string | undefined, retention: string | undefined): AutoCompaction {
  const raw = (retention ?? "").trim();
  if (mode === undefined || mode === "revision") {
    if (raw === "") return defaultAutoCompaction;
    return { mode: "revision", revisions: parseInteger("auto-compaction-retention", raw, 0) };
  }
  if (mode !== "periodic") throw new UsageError(`--auto-compaction-mode must be revision or periodic, got ${JSON.stringify(mode)}`);
  if (raw === "") throw new UsageError("--auto-compaction-mode periodic needs --auto-compaction-retention, a duration like 1h or 30m");
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(raw);
  const ms = match === null ? Number.NaN : Math.round(Number(match[1]) * retentionUnits[match[2] ?? "h"]!);
  if (!Number.isSafeInteger(ms) || ms < 1000) {
    throw new UsageError(`--auto-compaction-retention in periodic mode must be a duration of at least 1s like 1h, 30m or 10s, got ${JSON.stringify(raw)}`);
  }
  return { mode: "periodic", retentionMs: ms };
}

/** checkDataDir refuses a path that is not a directory, and an empty one when neither --bootstrap nor --join says what to do. */
function checkDataDir(dataDir: string, hasIntent: boolean): void {
  if (!existsSync(dataDir)) {
    if (!hasIntent) throw new UsageError(`--data-dir ${dataDir} does not exist: pass --bootstrap to create a cluster or --join ADDR to join one`);
    return;
  }
  if (!statSync(dataDir).isDirectory()) throw new UsageError(`--data-dir ${dataDir} is not a directory`);
  if (!hasIntent && readdirSync(dataDir).length === 0) {
    throw new UsageError(`--data-dir ${dataDir} is empty: pass --bootstrap to create a cluster or --join ADDR to join one`);
  }
}
