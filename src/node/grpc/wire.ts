// gRPC's HTTP/2 wire format, the server's half (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
// 5-byte length-prefixed messages, the grpc-timeout header, and the grpc-status/grpc-message trailers.
import { status as grpcStatus } from "@grpc/grpc-js";

export const grpc_content_type = "application/grpc+proto";

/** WireError: a request the wire layer refuses (the call ends with this status, nothing reaches a handler). */
export class WireError extends Error {
  override name = "WireError";
  constructor(
    readonly code: grpcStatus,
    message: string,
  ) {
    super(message);
  }
}

/**
 * FrameReader collects a stream's DATA chunks into whole messages. A message's length is checked as soon as its
 * prefix arrives, so an oversized one is refused before its bytes are buffered (memory per stream is bounded).
 */
export class FrameReader {
  /** chunks: received bytes not yet part of a whole message (joined only once a message is complete). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** needed: bytes the next message needs in all (prefix included), 5 until its prefix is known. */
  private needed = 5;

  constructor(private readonly maxMessageBytes: number) {}

  /** count, last: without an onMessage, push counts the messages it completes and keeps the last (a unary request). */
  count = 0;
  last: Buffer | null = null;

  /** push appends `chunk` and calls `onMessage` for each message it completes (or counts them); throws WireError. */
  push(chunk: Buffer, onMessage: ((message: Buffer) => void) | null = null): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= this.needed) {
      let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      if (buf[0] !== 0) throw new WireError(grpcStatus.UNIMPLEMENTED, "qklzl does not accept compressed messages (grpc-encoding identity only)");
      const length = buf.readUInt32BE(1);
      if (length > this.maxMessageBytes) {
        throw new WireError(grpcStatus.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${this.maxMessageBytes})`);
      }
      this.needed = 5 + length;
      if (buf.length < this.needed) {
        this.chunks = [buf];
        break;
      }
      const message = buf.subarray(5, this.needed);
      if (onMessage !== null) onMessage(message);
      else {
        this.count++;
        this.last = message;
      }
      if (buf.length === this.needed) {
        // The chunk was exactly one message (a unary request): nothing left, no view of nothing.
        this.needed = 5;
        this.chunks = [];
        this.buffered = 0;
        break;
      }
      buf = buf.subarray(this.needed);
      this.needed = 5;
      this.chunks = [buf];
      this.buffered = buf.length;
    }
  }

  /** partial: bytes of an unfinished message are left (the client ended the stream mid-message). */
  get partial(): boolean {
    return this.buffered > 0;
  }
}

/** frame: a message with its 5-byte prefix (not compressed, big-endian length). */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const timeout_units: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000001 };

/** timeoutMs: the grpc-timeout header in milliseconds ("5S", "100m"), or null when absent or malformed. */
export function timeoutMs(header: string | string[] | undefined): number | null {
  if (typeof header !== "string") return null;
  const match = /^(\d{1,8})([HMSmun])$/.exec(header);
  if (match === null) return null;
  return Number(match[1]) * timeout_units[match[2]!]!;
}

/** grpcMessage: a status message as the grpc-message header carries it (percent-encoded like grpc-js does). */
export function grpcMessage(details: string): string {
  return encodeURI(details);
}
