// OutQueue: frames waiting for a socket, written with coalescing and by hand-managed backpressure.
// Bun's socket.write does not buffer (BUN-NOTES §4): it returns how many bytes the kernel took and drops the
// rest, so the unsent tail is kept here and written again when the socket drains.
import type { Socket } from "bun";
import { assert } from "../shared/assert.ts";
import { stamp, TracePoint, tracing } from "../shared/trace.ts";

/** coalesce_bytes_max: small frames queued in the same tick are joined into one write up to this size. */
export const coalesce_bytes_max = 256 * 1024;
/** staging_bytes_max: the reused buffer batches are joined in grows up to this; a larger batch gets its own. */
const staging_bytes_max = 4 * 1024 * 1024;

export interface OutQueueLimits {
  messagesMax: number;
  bytesMax: number;
  /**
   * ageMaxMs: a frame that waited this long for a connection is dropped when one opens (or when room is needed).
   * Raft retransmits what matters; a minutes-old heartbeat or TimeoutNow delivered after a peer restart only disturbs.
   */
  ageMaxMs: number;
}

export class OutQueue {
  /**
   * frames[head..] are queued and not yet handed to the socket; bodies[i] holds the parts that follow frames[i]
   * (null: the frame is one buffer), sizes[i] the whole frame's length. A frame in parts (an append's fields,
   * then the entries section its followers share) is one frame here: queued, dropped and batched whole.
   * Invariant: bytes == sum of sizes.
   */
  private frames: Uint8Array[] = [];
  private bodies: (readonly Uint8Array[] | null)[] = [];
  private sizes: number[] = [];
  /** queuedAt[i] is when frames[i] was pushed (performance.now()); non-decreasing. */
  private queuedAt: number[] = [];
  private head = 0;
  private bytes = 0;
  /** tail is the part of the last write the kernel did not take; it must go out before anything else. */
  private tail: Uint8Array | null = null;
  /**
   * staging: where batches of several frames (or parts) are joined, reused: a fresh buffer per batch was a page
   * fault per 4 KiB on first touch. The tail of a partial write is a view of it, and no new batch is taken until
   * the tail is written, so it is never overwritten while the socket still needs it (socket.write keeps nothing).
   */
  private staging = new Uint8Array(0);
  private socket: Socket<unknown> | null = null;
  private flushScheduled = false;
  /** written counts frames handed to the kernel in full (a frame counts when its batch is fully written). */
  written = 0;
  /** batches counts coalesced writes started (one per takeBatch): written / batches is the coalescing factor. */
  batches = 0;
  /** dropped counts frames never sent: queue full, expired (also counted in `expired`) or cleared. */
  dropped = 0;
  expired = 0;

  constructor(private readonly limits: OutQueueLimits) {
    assert(limits.messagesMax > 0, "queue messagesMax positive");
    assert(limits.bytesMax > 0, "queue bytesMax positive");
    assert(limits.ageMaxMs > 0, "queue ageMaxMs positive");
  }

  get length(): number {
    return this.frames.length - this.head;
  }

  /** queuedBytes counts queued frames plus the unsent tail: the memory this queue holds. */
  get queuedBytes(): number {
    return this.bytes + (this.tail?.length ?? 0);
  }

  /**
   * push queues a frame: `frame`, followed by the `body` parts when it comes in parts (written as one frame,
   * never split across connections; the parts must not change until written); returns false (and drops it)
   * when the queue is full. Never blocks.
   */
  push(frame: Uint8Array, body: readonly Uint8Array[] | null = null): boolean {
    assert(frame.length > 0, "empty frame");
    let size = frame.length;
    if (body !== null) for (const part of body) size += part.length;
    const now = performance.now();
    const full = () => this.length >= this.limits.messagesMax || this.bytes + size > this.limits.bytesMax;
    if (full()) this.expire(now); // stale frames make room for fresh ones
    if (full()) {
      this.dropped++;
      return false;
    }
    this.frames.push(frame);
    this.bodies.push(body);
    this.sizes.push(size);
    this.queuedAt.push(now);
    this.bytes += size;
    this.scheduleFlush();
    return true;
  }

  /** attach starts writing to `socket`, `first` (the handshake) ahead of everything queued. */
  attach(socket: Socket<unknown>, first?: Uint8Array): void {
    assert(this.socket === null, "queue already attached");
    assert(this.tail === null, "tail left from a previous socket");
    this.socket = socket;
    this.tail = first ?? null;
    this.expire(performance.now());
    this.flush();
  }

  /** detach forgets the socket; a partly written batch is dropped, since a new connection starts at a frame boundary. */
  detach(): void {
    this.socket = null;
    this.tail = null;
  }

  /** clear drops everything queued. */
  clear(): void {
    this.dropped += this.length;
    this.frames = [];
    this.bodies = [];
    this.sizes = [];
    this.queuedAt = [];
    this.head = 0;
    this.bytes = 0;
    this.tail = null;
  }

  /** onDrain is called from the socket's drain handler: the kernel has room again. */
  onDrain(): void {
    this.flush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.socket === null) return;
    // A microtask lets every frame queued in the current tick (one Ready's messages) share a write.
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === null) return;
    for (;;) {
      if (this.tail === null) {
        if (this.length === 0) return;
        this.tail = this.takeBatch();
      }
      const tail = this.tail;
      const n = socket.write(tail);
      if (tracing) stamp(TracePoint.socketWrite, -1, n);
      if (n < 0) return; // closed: the close handler detaches us.
      if (n < tail.length) {
        this.tail = tail.subarray(n);
        return; // the drain handler calls onDrain.
      }
      this.tail = null;
    }
  }

  /**
   * takeBatch removes the queue's leading frames, joined into one buffer up to coalesce_bytes_max (a frame
   * larger than that goes alone). A lone one-part frame is written as it is; anything else is joined in
   * `staging`.
   */
  private takeBatch(): Uint8Array {
    assert(this.length > 0, "takeBatch on an empty queue");
    let end = this.head;
    let size = 0;
    while (end < this.frames.length) {
      const len = this.sizes[end]!;
      if (end > this.head && size + len > coalesce_bytes_max) break;
      size += len;
      end++;
    }
    let batch: Uint8Array;
    if (end === this.head + 1 && this.bodies[this.head] === null) {
      batch = this.frames[this.head]!;
    } else {
      batch = this.space(size);
      let off = 0;
      for (let i = this.head; i < end; i++) {
        const frame = this.frames[i]!;
        batch.set(frame, off);
        off += frame.length;
        const body = this.bodies[i];
        if (body !== null && body !== undefined) {
          for (const part of body) {
            batch.set(part, off);
            off += part.length;
          }
        }
      }
      assert(off === size, "batch size");
    }
    this.written += end - this.head;
    this.batches++;
    this.bytes -= size;
    this.head = end;
    this.compact();
    assert(this.bytes >= 0, "queued bytes underflow");
    return batch;
  }

  /** space: `size` bytes of the staging buffer (grown when needed), or a buffer of its own past staging_bytes_max. */
  private space(size: number): Uint8Array {
    if (size > staging_bytes_max) return new Uint8Array(size);
    if (size > this.staging.length) this.staging = new Uint8Array(Math.min(staging_bytes_max, Math.max(size, 2 * this.staging.length, 64 * 1024)));
    return this.staging.subarray(0, size);
  }

  /** expire drops leading frames older than ageMaxMs; returns how many. */
  private expire(now: number): number {
    const start = this.head;
    while (this.head < this.frames.length && now - this.queuedAt[this.head]! > this.limits.ageMaxMs) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    const n = this.head - start;
    this.dropped += n;
    this.expired += n;
    this.compact();
    return n;
  }

  /** compact releases the consumed prefix of the arrays. */
  private compact(): void {
    if (this.head === this.frames.length) {
      this.frames = [];
      this.bodies = [];
      this.sizes = [];
      this.queuedAt = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.bodies = this.bodies.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.queuedAt = this.queuedAt.slice(this.head);
      this.head = 0;
    }
    assert(this.frames.length === this.queuedAt.length, "queuedAt parallels frames");
    assert(this.frames.length === this.bodies.length && this.frames.length === this.sizes.length, "bodies and sizes parallel frames");
  }
}
