/** Bucket bounds (seconds) of the fsync latency histogram: 50 µs to 1 s. */
const fsync_buckets_seconds = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** Histogram is a Prometheus histogram with fixed buckets. */
class Histogram {
  private readonly counts = new Array<number>(fsync_buckets_seconds.length).fill(0);
  private sum = 0;
  private count = 0;

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < fsync_buckets_seconds.length; i++) {
      if (seconds <= fsync_buckets_seconds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }

  lines(name: string): string[] {
    const out: string[] = [];
    let cumulative = 0;
    for (let i = 0; i < fsync_buckets_seconds.length; i++) {
      cumulative += this.counts[i]!;
      out.push(`${name}_bucket{le="${fsync_buckets_seconds[i]}"} ${cumulative}`);
    }
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`);
    return out;
  }
}

/** Gauges read at scrape time. */
export interface MetricGauges {
  term: number;
  commitIndex: number;
  appliedIndex: number;
  lastLogIndex: number;
  snapshotIndex: number;
  isLeader: boolean;
  kvKeys: number;
  pendingProposals: number;
  pendingReads: number;
}

/** NodeMetrics counts what the runtime does, for GET /metrics (Prometheus text format 0.0.4). */
export class NodeMetrics {
  proposals = 0;
  proposalsRefused = 0;
  proposalsFailed = 0;
  elections = 0;
  leaderChanges = 0;
  readsLinearizable = 0;
  readsStale = 0;
  readIndexRounds = 0;
  snapshotsTaken = 0;
  snapshotsInstalled = 0;
  snapshotsSent = 0;
  snapshotsSendFailed = 0;
  readies = 0;
  entriesApplied = 0;
  readonly fsync = new Histogram();

  text(gauges: MetricGauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: "counter" | "gauge", help: string, value: number | boolean) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${typeof value === "boolean" ? (value ? 1 : 0) : value}`);
    };
    metric("qklzl_raft_term", "gauge", "Current Raft term.", gauges.term);
    metric("qklzl_raft_commit_index", "gauge", "Highest log index known committed.", gauges.commitIndex);
    metric("qklzl_raft_applied_index", "gauge", "Highest log index applied to the map.", gauges.appliedIndex);
    metric("qklzl_raft_last_log_index", "gauge", "Last index in the log.", gauges.lastLogIndex);
    metric("qklzl_raft_snapshot_index", "gauge", "Index of the newest snapshot.", gauges.snapshotIndex);
    metric("qklzl_raft_is_leader", "gauge", "1 when this node is the leader.", gauges.isLeader);
    metric("qklzl_kv_keys", "gauge", "Keys in the map.", gauges.kvKeys);
    metric("qklzl_pending_proposals", "gauge", "Writes and membership changes waiting to apply.", gauges.pendingProposals);
    metric("qklzl_pending_reads", "gauge", "Linearizable reads waiting.", gauges.pendingReads);
    metric("qklzl_proposals_total", "counter", "Proposals appended to the log by this leader.", this.proposals);
    metric("qklzl_proposals_refused_total", "counter", "Proposals refused at once (not leader, no quorum, limits).", this.proposalsRefused);
    metric("qklzl_proposals_failed_total", "counter", "Proposals that timed out or were overwritten.", this.proposalsFailed);
    metric("qklzl_raft_elections_total", "counter", "Elections this node started (became candidate).", this.elections);
    metric("qklzl_raft_leader_changes_total", "counter", "Times this node saw a new leader.", this.leaderChanges);
    lines.push(
      "# HELP qklzl_reads_total Reads served, by consistency.",
      "# TYPE qklzl_reads_total counter",
      `qklzl_reads_total{consistency="linearizable"} ${this.readsLinearizable}`,
      `qklzl_reads_total{consistency="stale"} ${this.readsStale}`,
    );
    metric("qklzl_read_index_rounds_total", "counter", "ReadIndex rounds (each serves a batch of reads).", this.readIndexRounds);
    metric("qklzl_snapshots_taken_total", "counter", "Snapshots this node took.", this.snapshotsTaken);
    metric("qklzl_snapshots_installed_total", "counter", "Snapshots received from a leader and installed.", this.snapshotsInstalled);
    metric("qklzl_snapshots_sent_total", "counter", "Snapshots streamed to followers.", this.snapshotsSent);
    metric("qklzl_snapshots_send_failed_total", "counter", "Snapshot transfers that failed.", this.snapshotsSendFailed);
    metric("qklzl_raft_readies_total", "counter", "Ready batches processed.", this.readies);
    metric("qklzl_raft_entries_applied_total", "counter", "Log entries applied.", this.entriesApplied);
    lines.push("# HELP qklzl_fsync_seconds Latency of durable log writes (write + fsync).", "# TYPE qklzl_fsync_seconds histogram");
    lines.push(...this.fsync.lines("qklzl_fsync_seconds"));
    return `${lines.join("\n")}\n`;
  }
}
