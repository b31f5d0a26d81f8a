import { frame_header_bytes } from "./frames.ts";

/** out_initial_bytes: the buffer to start with (a turn's answers of 64 puts fit); out_keep_bytes: larger ones are dropped once written. */
const out_initial_bytes = 16_384;
const out_keep_bytes = 262_144;

/**
 * FrameOut holds the HTTP/2 frames one end of a connection has queued for its next socket write: written straight
 * into one buffer (one allocation per frame and a concat per flush cost ~3 % of a put's leader CPU), so a turn's
 * frames leave in one write. What the socket does not take waits in `unwritten` (a copy: the buffer is reused)
 * until the next write. Shared by the gRPC server's connections and the bench's HTTP/2 client; when to write
 * (a microtask per turn) and what to do on a closed socket are theirs.
 */
export class FrameOut {
  private out: Buffer = Buffer.allocUnsafe(out_initial_bytes);
  private outBytes = 0;
  private unwritten: Uint8Array | null = null;

  /** pendingBytes: queued and not yet taken by the socket. */
  get pendingBytes(): number {
    return this.outBytes + (this.unwritten === null ? 0 : this.unwritten.length);
  }

  /** behind: the socket did not take everything last time (wait for its drain). */
  get behind(): boolean {
    return this.unwritten !== null;
  }

  /** queue adds bytes (whole frames) for the next write. */
  queue(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.out.set(bytes, this.outBytes);
    this.outBytes += bytes.length;
  }

  /** queueFrame: queue() of a frame, its header and payload written in place. */
  queueFrame(type: number, flags: number, streamId: number, payload: Uint8Array | null): void {
    const length = payload === null ? 0 : payload.length;
    this.reserve(frame_header_bytes + length);
    const out = this.out;
    const at = this.outBytes;
    out[at] = (length >>> 16) & 0xff;
    out[at + 1] = (length >>> 8) & 0xff;
    out[at + 2] = length & 0xff;
    out[at + 3] = type;
    out[at + 4] = flags;
    out.writeUInt32BE(streamId & 0x7fffffff, at + 5);
    if (payload !== null) out.set(payload, at + frame_header_bytes);
    this.outBytes = at + frame_header_bytes + length;
  }

  /**
   * writeTo writes what is queued with `write` (a socket's: bytes taken, or < 0 once closed); false when the
   * socket is closed. Behind a full socket (rare) new frames join what waits: a copy either way.
   */
  writeTo(write: (bytes: Uint8Array) => number): boolean {
    if (this.unwritten !== null && this.outBytes > 0) {
      this.unwritten = Buffer.concat([this.unwritten, this.out.subarray(0, this.outBytes)]);
      this.emptyOut();
    }
    if (this.unwritten !== null) {
      const written = write(this.unwritten);
      if (written < 0) return false;
      this.unwritten = written >= this.unwritten.length ? null : this.unwritten.subarray(written);
    } else if (this.outBytes > 0) {
      // The common case: one write straight from `out`; only what the socket did not take is copied out of it.
      const bytes = this.out.subarray(0, this.outBytes);
      const written = write(bytes);
      if (written < 0) return false;
      this.unwritten = written >= bytes.length ? null : Buffer.from(bytes.subarray(written));
      this.emptyOut();
    }
    return true;
  }

  /** reserve: room in `out` for `bytes` more (it doubles; what is queued is kept). */
  private reserve(bytes: number): void {
    const needed = this.outBytes + bytes;
    if (needed <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.out.length * 2));
    this.out.copy(grown, 0, 0, this.outBytes);
    this.out = grown;
  }

  /** emptyOut: `out` is written; one that grew past out_keep_bytes (a burst) is given back. */
  private emptyOut(): void {
    this.outBytes = 0;
    if (this.out.length > out_keep_bytes) this.out = Buffer.allocUnsafe(out_initial_bytes);
  }
}
