import { assert } from "./assert.ts";

/** Every bound in qklzl, units last. Relations between them are asserted below at load. */
export const limits = {
  key_bytes_max: 4 * 1024,
  value_bytes_max: 1024 * 1024,
  request_body_bytes_max: 2 * 1024 * 1024,
  /** One transport frame; larger frames close the connection. Snapshot chunks stay well under it. */
  frame_bytes_max: 16 * 1024 * 1024,
  snapshot_chunk_bytes: 1024 * 1024,
  /** Messages queued for one peer before new ones are dropped (Raft retransmits). */
  peer_queue_messages_max: 4096,
  peer_queue_bytes_max: 64 * 1024 * 1024,
  /** AppendEntries batching: entries and bytes per message, messages in flight per follower. */
  append_entries_max: 1024,
  append_bytes_max: 4 * 1024 * 1024,
  inflight_messages_max: 256,
  /** Entries proposed but not yet committed on a leader; further proposals are refused. */
  uncommitted_entries_max: 100_000,
  pending_requests_max: 100_000,
  pending_reads_max: 100_000,
  segment_bytes_default: 64 * 1024 * 1024,
  /**
   * The log since the last snapshot stays in memory: an automatic snapshot is also taken once the entries
   * applied since the last one hold this many command bytes (--snapshot-bytes), whatever their count, so that
   * large values (1 MiB) do not need a smaller --snapshot-entries by hand. 256 MiB, not 64: at 64 MiB, 16 KiB
   * values snapshotted every ~4,000 entries (a ~64 MB image each time) and the p99 of 64 puts in flight doubled
   * (BENCHMARKS.md, 05:25 UTC 2026-12-02).
   */
  snapshot_bytes_default: 256 * 1024 * 1024,
  /** Compaction keeps at most --trailing-entries behind a snapshot, and no more than about this many bytes of them. */
  trailing_bytes_max: 16 * 1024 * 1024,
  members_max: 9,
  /** Operations in one txn (success + failure lists, nested ones included), and compares in one txn. */
  txn_ops_max: 128,
  /** Nesting depth of txns inside a txn. */
  txn_depth_max: 8,
  /** A range answer stops (with more: true) before its keys and values exceed this (etcd-io/etcd#12342). */
  range_response_bytes_max: 4 * 1024 * 1024,
  /**
   * Revisions of history kept by default (revision-count retention, applied inside apply so every replica
   * compacts at the same revision). At ~160 bytes per history entry with 100-byte values: ~16 MB.
   */
  history_revisions_default: 100_000,
  /**
   * Bytes of history (old versions and tombstones, in the arena) past which the older half of the window is
   * compacted, whatever the revision count: big values must not multiply memory by the retention.
   */
  history_bytes_max: 32 * 1024 * 1024,
  /**
   * Most revisions one automatic compaction drops. Compaction runs inside apply, so its cost is a stall of every
   * write behind it: dropping 10,000 revisions at once (a tenth of the default window) took 12-20 ms with 100 B
   * to 1 KiB values (BENCHMARKS.md, 2026-12-02 19:35); batches of this size keep each one near 1-2 ms, at the
   * same total cost.
   */
  compaction_batch_revisions: 1024,
  /** Idempotent writes: results remembered per request id (oldest forgotten first), in entries and bytes. */
  dedup_entries_max: 10_000,
  dedup_bytes_max: 8 * 1024 * 1024,
  /** Watch streams (GET /watch) open on one node at once; more are refused with too_many_watches. */
  watch_streams_max: 4096,
  /**
   * What one watch holds undelivered (events, estimated bytes); past it the watch stops taking live events
   * and catches up from history once its client reads again (cancelled with compacted if that is gone).
   */
  watch_buffer_events_max: 1000,
  watch_buffer_bytes_max: 1024 * 1024,
  /** History events one watch reads per step while catching up (then yields to the event loop). */
  watch_scan_events_max: 10_000,
  /** A watch stream sends a heartbeat comment after this long without data; clients call it dead after ~3. */
  watch_heartbeat_ms: 2_000,
  /** With progress_notify, a progress header after this long without a message. */
  watch_progress_ms: 5_000,
  /**
   * Leases granted at once (the leader scans them on its clock), and the longest TTL in seconds (30 days). The
   * shortest TTL depends on the election timeout (src/node/lease_keeper.ts).
   */
  leases_max: 10_000,
  lease_ttl_seconds_max: 30 * 24 * 3600,
  /** Revokes of expired leases the leader proposes per tick (etcd: 1000 per second). */
  lease_revokes_per_tick_max: 100,
} as const;

assert(limits.value_bytes_max + limits.key_bytes_max < limits.request_body_bytes_max, "a max entry fits a request");
assert(limits.request_body_bytes_max < limits.append_bytes_max, "a max entry fits one append message");
assert(limits.append_bytes_max < limits.frame_bytes_max, "one append message fits one frame");
assert(limits.snapshot_chunk_bytes < limits.frame_bytes_max, "a snapshot chunk fits one frame");
assert(limits.range_response_bytes_max < limits.frame_bytes_max, "a range answer fits one frame");
