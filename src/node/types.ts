import type { NodeTlsFiles } from "./tls/files.ts";
import type { AutoCompaction } from "../kv/index.ts";
import type { Storage } from "../storage/types.ts";

/** NodeOptions: everything `qklzl start` passes to the runtime. Durations in milliseconds. */
export interface NodeOptions {
  id: number;
  dataDir: string;
  raftAddr: string;
  /**
   * advertiseRaftAddr: the Raft address this node records in the configuration (peers dial it) when it is not
   * the listen address, e.g. a proxy or NAT in front of it; null or absent: the address actually bound.
   */
  advertiseRaftAddr?: string | null;
  httpAddr: string;
  /** grpcAddr: where the etcd v3 gRPC endpoint listens (src/node/grpc); off when absent or null. */
  grpcAddr?: string | null;
  bootstrap: boolean;
  /** forceNewCluster: make this existing data dir a one-voter cluster of this node first (force_new_cluster.ts). */
  forceNewCluster?: boolean;
  /** join is the HTTP address of any live member, or null. */
  join: string | null;
  heartbeatMs: number;
  /** electionMs: the minimum election timeout; the actual one is random in [electionMs, 2*electionMs). */
  electionMs: number;
  /** snapshotEntries: take a snapshot every this many applied entries. */
  snapshotEntries: number;
  /** snapshotBytes: ...or once the entries applied since the last snapshot hold this many bytes (default limits.snapshot_bytes_default). */
  snapshotBytes?: number;
  /** trailingEntries: log entries kept behind a snapshot for slow followers. */
  trailingEntries: number;
  requestTimeoutMs: number;
  /** learnerTimeoutMs: a learner the leader has not heard from this long is reported (default 30 000). */
  learnerTimeoutMs?: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxBodyBytes: number;
  segmentBytes: number;
  /** tls: the TLS flags (file paths); absent: plaintext everywhere. */
  tls?: NodeTlsFiles;
  /** autoCompaction: --auto-compaction-mode / --auto-compaction-retention; absent: the default revision window. */
  autoCompaction?: AutoCompaction;
  /** maxTxnOps: --max-txn-ops, the operations (and compares) of one txn a request may carry (default 128). */
  maxTxnOps?: number;
  /**
   * quotaBackendBytes: --quota-backend-bytes, the store size past which the leader raises NOSPACE (absent or 0:
   * quota.ts defaultQuotaBytes, from free memory and disk).
   */
  quotaBackendBytes?: number;
  /** corruptCheckIntervalMs: --corrupt-check-interval; the leader compares members' hashes this often (absent or 0: off). */
  corruptCheckIntervalMs?: number;
  /** wrapStorage (tests only): wraps the opened storage, e.g. in a double that delays saves. */
  wrapStorage?: (storage: Storage) => Storage;
}

export interface RunningNode {
  /** api is the NodeApi the HTTP server serves (in-process tests and tools call it directly). */
  readonly api: import("./api.ts").NodeApi;
  readonly id: number;
  readonly httpAddr: string;
  readonly raftAddr: string;
  /** grpcAddr: the bound etcd gRPC address, or null when the endpoint is off. */
  readonly grpcAddr: string | null;
  /** stop: stop taking requests, finish in-flight syncs, hand leadership over if leading, close files. */
  stop(): Promise<void>;
  /**
   * reloadTls reads the TLS files again (SIGHUP) and serves new connections with them; resolves false when
   * TLS is off or the new files were refused (the old certificates stay in use, logged).
   */
  reloadTls(): Promise<boolean>;
  /** done resolves when the node stopped (by stop(), or by being removed from the cluster). */
  readonly done: Promise<void>;
}
