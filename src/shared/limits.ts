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
  members_max: 9,
} as const;

assert(limits.value_bytes_max + limits.key_bytes_max < limits.request_body_bytes_max, "a max entry fits a request");
assert(limits.request_body_bytes_max < limits.append_bytes_max, "a max entry fits one append message");
assert(limits.append_bytes_max < limits.frame_bytes_max, "one append message fits one frame");
assert(limits.snapshot_chunk_bytes < limits.frame_bytes_max, "a snapshot chunk fits one frame");
