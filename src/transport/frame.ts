// Wire framing: every frame is a u32 big-endian byte length followed by that many bytes of msgpack.
// Frames are self-describing (useRecords:false): a reconnect never depends on structures sent earlier.
import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";

export const frame_header_bytes = 4;

// copyBuffers:false is safe: every frame body is decoded from a buffer nobody writes again (Bun hands each
// data callback a fresh Buffer, and bodies split across chunks get their own allocation). The generic path's
// validator copies entry payloads out (wire.ts parseEntry); the append fast path (append_decode.ts) keeps them
// as views of the body, which then lives until the follower has written and applied those entries.
const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: false });

/** FrameError: the byte stream is not a valid frame sequence; the connection carrying it must be closed. */
export class FrameError extends Error {
  override name = "FrameError";
}

/** packValue: one msgpack value as a fresh buffer of its own (msgpackr reuses its output buffer). */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value).slice();
}

/** encodeFrame packs `value` and prefixes its length; throws FrameError when the frame exceeds bytesMax. */
export function encodeFrame(value: unknown, bytesMax: number): Uint8Array {
  const body = packr.pack(value);
  if (body.length > bytesMax) throw new FrameError(`frame of ${body.length} bytes exceeds ${bytesMax}`);
  const frame = new Uint8Array(frame_header_bytes + body.length);
  const n = body.length;
  frame[0] = n >>> 24;
  frame[1] = (n >>> 16) & 0xff;
  frame[2] = (n >>> 8) & 0xff;
  frame[3] = n & 0xff;
  frame.set(body, frame_header_bytes);
  assert(frame.length === body.length + frame_header_bytes, "frame length");
  return frame;
}

/**
 * FrameDecoder turns arbitrary TCP chunks (partial frames, several frames per chunk) into decoded values.
 * push() throws FrameError on a zero or oversized length prefix or an undecodable body; after that the
 * decoder is poisoned and the caller closes the connection. bytesMax may be raised later (after the handshake).
 */
export class FrameDecoder {
  bytesMax: number;
  private readonly header = new Uint8Array(frame_header_bytes);
  private headerFilled = 0;
  /** body is the frame being assembled across chunks, null between frames. Invariant: bodyFilled < body.length. */
  private body: Uint8Array | null = null;
  private bodyFilled = 0;
  /**
   * pieces: with decodeSpanning, the frame being assembled as views of the chunks it arrived in (not copied
   * into a body of its own); null between frames. Invariant: piecesFilled < piecesNeed.
   */
  private pieces: Uint8Array[] | null = null;
  private piecesFilled = 0;
  private piecesNeed = 0;
  private failed = false;

  /**
   * decode turns one frame body into its value (default: msgpackr; inbound.ts adds its append fast path).
   * decodeSpanning, when given, decodes a frame that spanned chunks from its pieces (views of those chunks):
   * only for chunks that nobody writes again (Bun's data callbacks hand each a buffer of its own).
   */
  constructor(
    bytesMax: number,
    private readonly decode: (body: Uint8Array) => unknown = decodeFrameBody,
    private readonly decodeSpanning: ((pieces: Uint8Array[], length: number) => unknown) | null = null,
  ) {
    assert(bytesMax > 0, "frame bytesMax must be positive");
    this.bytesMax = bytesMax;
  }

  /**
   * push feeds one chunk and calls onFrame with each completed frame's value, in order, as soon as it is
   * decoded: a handler that raises bytesMax (after the handshake) affects the very next frame of the chunk.
   * Without onFrame the values are returned. Errors thrown by onFrame propagate and poison the decoder too.
   */
  push(chunk: Uint8Array, onFrame?: (value: unknown) => void): unknown[] {
    if (this.failed) throw new FrameError("decoder already failed");
    const out: unknown[] = [];
    try {
      this.consume(chunk, onFrame ?? ((value) => out.push(value)));
    } catch (error) {
      this.failed = true;
      throw error;
    }
    return out;
  }

  /** buffered is how many bytes of an incomplete frame are held (for tests and memory accounting). */
  get buffered(): number {
    return this.headerFilled + this.bodyFilled + this.piecesFilled;
  }

  private consume(chunk: Uint8Array, emit: (value: unknown) => void): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.body !== null) {
        const take = Math.min(this.body.length - this.bodyFilled, chunk.length - offset);
        this.body.set(chunk.subarray(offset, offset + take), this.bodyFilled);
        this.bodyFilled += take;
        offset += take;
        if (this.bodyFilled === this.body.length) {
          const body = this.body;
          this.body = null;
          this.bodyFilled = 0;
          emit(this.decode(body));
        }
        continue;
      }
      if (this.pieces !== null) {
        const take = Math.min(this.piecesNeed - this.piecesFilled, chunk.length - offset);
        this.pieces.push(chunk.subarray(offset, offset + take));
        this.piecesFilled += take;
        offset += take;
        if (this.piecesFilled === this.piecesNeed) {
          const pieces = this.pieces;
          this.pieces = null;
          this.piecesFilled = 0;
          emit(this.decodeSpanning!(pieces, this.piecesNeed));
        }
        continue;
      }
      if (this.headerFilled === 0 && chunk.length - offset >= frame_header_bytes) {
        // Fast path: the header is whole in this chunk; decode in place when the body is too.
        const length = this.checkLength(readU32(chunk, offset));
        offset += frame_header_bytes;
        if (chunk.length - offset >= length) {
          emit(this.decode(chunk.subarray(offset, offset + length)));
          offset += length;
        } else {
          this.startBody(length);
        }
        continue;
      }
      // Slow path: a header split across chunks.
      const take = Math.min(frame_header_bytes - this.headerFilled, chunk.length - offset);
      this.header.set(chunk.subarray(offset, offset + take), this.headerFilled);
      this.headerFilled += take;
      offset += take;
      if (this.headerFilled === frame_header_bytes) {
        this.headerFilled = 0;
        this.startBody(this.checkLength(readU32(this.header, 0)));
      }
    }
    assert(offset === chunk.length, "chunk fully consumed");
  }

  /** startBody: a frame of `length` bytes begins; its bytes go to a body of its own, or to pieces. */
  private startBody(length: number): void {
    if (this.decodeSpanning === null) {
      this.body = new Uint8Array(length);
      return;
    }
    this.pieces = [];
    this.piecesNeed = length;
  }

  private checkLength(length: number): number {
    if (length === 0) throw new FrameError("zero-length frame");
    if (length > this.bytesMax) throw new FrameError(`frame length ${length} exceeds ${this.bytesMax}`);
    return length;
  }
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) >>> 0) + (bytes[offset + 1]! << 16) + (bytes[offset + 2]! << 8) + bytes[offset + 3]!;
}

/** decodeFrameBody: one frame body through msgpackr; FrameError when it is not exactly one msgpack value. */
export function decodeFrameBody(body: Uint8Array): unknown {
  // A frame holds exactly one msgpack value: unpack throws on trailing bytes ("end of buffer not reached").
  try {
    return packr.unpack(body);
  } catch (error) {
    throw new FrameError(`undecodable frame: ${(error as Error).message}`);
  }
}
