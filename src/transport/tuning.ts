// TransportTuning: the transport's timing and window knobs. Defaults suit production; tests shrink them.
import { assert } from "../shared/assert.ts";
import { limits } from "../shared/limits.ts";

export interface TransportTuning {
  /** Reconnect backoff: starts at backoffMinMs, doubles per failure up to backoffMaxMs, jittered ×[0.5, 1.5). */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** A connect that has not opened after this long counts as failed. */
  connectTimeoutMs: number;
  /** onUnreachable fires at most once per this interval per peer. */
  unreachableIntervalMs: number;
  /** An accepted connection must complete its handshake within this time. */
  handshakeTimeoutMs: number;
  queueMessagesMax: number;
  queueBytesMax: number;
  /** A queued message that waited this long for a connection is dropped instead of delivered late. */
  queueAgeMaxMs: number;
  snapshotChunkBytes: number;
  /** Snapshot chunks sent and not yet acknowledged. */
  snapshotWindowChunks: number;
  /** A snapshot transfer with no acknowledged chunk for this long fails. */
  snapshotProgressTimeoutMs: number;
  /** After the last chunk, how long the receiver's onSnapshot may take before the sender gives up. */
  snapshotApplyTimeoutMs: number;
  /** Largest snapshot image a receiver accepts (it allocates the whole image up front). */
  snapshotBytesMax: number;
}

export const defaultTuning: TransportTuning = {
  backoffMinMs: 20,
  backoffMaxMs: 1000,
  connectTimeoutMs: 5000,
  unreachableIntervalMs: 500,
  handshakeTimeoutMs: 5000,
  queueMessagesMax: limits.peer_queue_messages_max,
  queueBytesMax: limits.peer_queue_bytes_max,
  queueAgeMaxMs: 2000,
  snapshotChunkBytes: limits.snapshot_chunk_bytes,
  snapshotWindowChunks: 4,
  snapshotProgressTimeoutMs: 10_000,
  snapshotApplyTimeoutMs: 60_000,
  snapshotBytesMax: 4 * 1024 * 1024 * 1024 - 1,
};

/** resolveTuning fills defaults and checks the relations the code relies on. */
export function resolveTuning(partial: Partial<TransportTuning> = {}): TransportTuning {
  const t = { ...defaultTuning, ...partial };
  assert(t.backoffMinMs > 0 && t.backoffMinMs <= t.backoffMaxMs, "backoff bounds");
  assert(t.snapshotWindowChunks >= 1, "snapshot window");
  assert(t.snapshotChunkBytes > 0, "snapshot chunk bytes positive");
  assert(t.snapshotChunkBytes + 1024 < limits.frame_bytes_max, "a snapshot chunk fits one frame");
  assert(t.queueMessagesMax > 0 && t.queueBytesMax >= limits.frame_bytes_max, "a max frame fits a peer queue");
  return t;
}
