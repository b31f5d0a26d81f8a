// A lean HTTP/2 client (RFC 9113, h2c with prior knowledge) on Bun.connect, for the gRPC bench: unary exchanges
// only (one HEADERS + one DATA with END_STREAM out; headers, data, trailers back), with flow control both ways,
// SETTINGS/PING/GOAWAY handled, and the answers' header blocks decoded by the server's own HPACK decoder (Go's
// encoder uses the dynamic table, so every block must be decoded in order). Bun's node:http2 client cost ~40 %
// of a core at 17k calls/s, CPU the measured servers need on a 2-core machine (BENCHMARKS.md "h51").
import type { Socket } from "bun";
import {
  connection_preface,
  default_frame_size,
  default_window,
  ErrorCode,
  Flag,
  frame_header_bytes,
  FrameType,
  Setting,
  settings_ack,
  settingsFrame,
  window_max,
  windowUpdateFrame,
} from "../../node/grpc/h2/frames.ts";
import { BlockCache } from "../../node/grpc/h2/block_cache.ts";
import { FrameOut } from "../../node/grpc/h2/frame_out.ts";
import { type HeaderField, HpackDecoder } from "../../node/grpc/h2/hpack.ts";

/** stream_window, connection_window: what we let the server send before a WINDOW_UPDATE (answers are small). */
const stream_window = 4 << 20;
const connection_window = 16 << 20;
/** header_block_max: the largest answer header block we accept (HEADERS + CONTINUATIONs). */
const header_block_max = 64 * 1024;
/** stream_id_max: the last client stream id (odd, 2^31 - 1); a connection that gets there is used up. */
const stream_id_max = 2 ** 31 - 1;

/** Exchange: one request and what came back; `done` is called once, with an error text or null. */
export class Exchange {
  id = 0;
  /** status: the answer's :status; grpcStatus/grpcMessage from the trailers (or a trailers-only answer). */
  status: string | null = null;
  grpcStatus: string | null = null;
  grpcMessage = "";
  /** data: the answer's DATA bytes (a copy when they came in more than one frame). */
  data: Uint8Array | null = null;
  /** headerBlocks: HEADERS blocks seen (1: headers, 2: and trailers). */
  headerBlocks = 0;
  recvUnacked = 0;
  constructor(
    readonly block: Uint8Array,
    readonly body: Uint8Array,
    readonly startedMs: number,
    readonly done: (error: string | null, exchange: Exchange) => void,
  ) {}
}

/**
 * H2ClientConnection. Invariants: `streams` holds the exchanges sent and not done (ids odd, increasing);
 * `waiting` those not sent yet (no window, or at the server's MAX_CONCURRENT_STREAMS); sendWindow never goes
 * below 0 from our DATA; once closed, every exchange has been told.
 */
export class H2ClientConnection {
  private socket: Socket<H2ClientConnection> | null = null;
  private readonly decoder = new HpackDecoder(4_096);
  /** blocks: answers' header blocks repeat call after call (block_cache.ts: a hit is what decoding would give). */
  private readonly blocks = new BlockCache();
  private readonly streams = new Map<number, Exchange>();
  private waiting: Exchange[] = [];
  private nextId = 1;
  private sendWindow = default_window;
  private peerStreamWindow = default_window;
  private peerMaxFrame = default_frame_size;
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private recvUnacked = 0;
  private input: Buffer | null = null;
  private continuation: { streamId: number; endStream: boolean; chunks: Buffer[]; bytes: number } | null = null;
  /** frames: queued for the next flush, and what the socket did not take yet (frame_out.ts). */
  private readonly frames = new FrameOut();
  private flushQueued = false;
  private settingsSeen: (() => void) | null = null;
  closedWhy: string | null = null;

  /** connect opens a connection and resolves once the server's first SETTINGS arrived (its limits known). */
  static async connect(host: string, port: number, timeoutMs = 5_000): Promise<H2ClientConnection> {
    const connection = new H2ClientConnection();
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no HTTP/2 SETTINGS from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
      connection.settingsSeen = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    connection.socket = await Bun.connect<H2ClientConnection>({
      hostname: host,
      port,
      data: connection,
      socket: {
        data: (socket, chunk) => socket.data.receive(chunk),
        drain: (socket) => socket.data.flush(),
        close: (socket) => socket.data.fail("the connection closed"),
        error: (socket, error) => socket.data.fail(`socket error: ${error.message}`),
      },
    });
    connection.socket.setNoDelay(true);
    connection.queue(connection_preface);
    connection.queue(settingsFrame([[Setting.ENABLE_PUSH, 0], [Setting.INITIAL_WINDOW_SIZE, stream_window]]));
    connection.queue(windowUpdateFrame(0, connection_window - default_window));
    try {
      await ready;
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  get inFlight(): number {
    return this.streams.size + this.waiting.length;
  }

  /** request sends `block` (an HPACK header block) and `body` (END_STREAM) as a new stream; `done` gets the answer. */
  request(block: Uint8Array, body: Uint8Array, done: Exchange["done"], startedMs = performance.now()): Exchange {
    const exchange = new Exchange(block, body, startedMs, done);
    if (this.closedWhy !== null) {
      queueMicrotask(() => done(this.closedWhy, exchange));
      return exchange;
    }
    if (body.length > this.peerMaxFrame || body.length > this.peerStreamWindow || block.length > this.peerMaxFrame) {
      queueMicrotask(() => done(`a request of ${block.length}+${body.length} bytes does not fit the server's frame size or stream window`, exchange));
      return exchange;
    }
    if (this.waiting.length > 0 || !this.trySend(exchange)) this.waiting.push(exchange);
    return exchange;
  }

  /** expire ends the exchanges started before `beforeMs` (RST_STREAM CANCEL), each with `why`. */
  expire(beforeMs: number, why: string): void {
    for (const exchange of [...this.streams.values()]) {
      if (exchange.startedMs >= beforeMs) continue;
      this.queueFrame(FrameType.RST_STREAM, 0, exchange.id, u32(ErrorCode.CANCEL));
      this.finish(exchange, why);
    }
    const late = this.waiting.filter((e) => e.startedMs < beforeMs);
    if (late.length === 0) return;
    this.waiting = this.waiting.filter((e) => e.startedMs >= beforeMs);
    for (const exchange of late) exchange.done(why, exchange);
  }

  /** close sends GOAWAY and ends the socket; exchanges in flight are told "closed by the client". */
  close(): void {
    if (this.closedWhy !== null) return;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(ErrorCode.NO_ERROR, 4);
    this.queueFrame(FrameType.GOAWAY, 0, 0, payload);
    this.flush();
    this.fail("closed by the client");
  }

  // ---- sending ---------------------------------------------------------------------------------------------

  private trySend(exchange: Exchange): boolean {
    const length = exchange.body.length;
    if (this.streams.size >= this.peerMaxStreams || length > this.sendWindow) return false;
    if (this.nextId > stream_id_max) {
      this.fail("stream ids used up");
      return true;
    }
    const id = this.nextId;
    this.nextId += 2;
    exchange.id = id;
    this.streams.set(id, exchange);
    this.queueFrame(FrameType.HEADERS, Flag.END_HEADERS, id, exchange.block);
    this.queueFrame(FrameType.DATA, Flag.END_STREAM, id, exchange.body);
    this.sendWindow -= length;
    return true;
  }

  private sendWaiting(): void {
    let sent = 0;
    while (sent < this.waiting.length && this.closedWhy === null && this.trySend(this.waiting[sent]!)) sent++;
    if (sent > 0) this.waiting = this.waiting.slice(sent);
  }

  private queue(bytes: Uint8Array): void {
    this.frames.queue(bytes);
    this.queued();
  }

  private queueFrame(type: number, flags: number, streamId: number, payload: Uint8Array | null): void {
    this.frames.queueFrame(type, flags, streamId, payload);
    this.queued();
  }

  /** queued: one socket write per turn for everything queued in it. */
  private queued(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** flush writes what is queued; what the socket does not take waits for its drain (Bun's write does not buffer). */
  flush(): void {
    const socket = this.socket;
    if (socket === null || this.closedWhy !== null) return;
    if (!this.frames.writeTo((bytes) => socket.write(bytes))) this.fail("the connection closed");
  }

  // ---- receiving -------------------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.closedWhy !== null) return;
    const buf = this.input === null ? chunk : Buffer.concat([this.input, chunk]);
    this.input = null;
    let at = 0;
    try {
      while (buf.length - at >= frame_header_bytes && this.closedWhy === null) {
        const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
        if (length > default_frame_size) throw new Error(`a frame of ${length} bytes (above our MAX_FRAME_SIZE)`);
        if (buf.length - at < frame_header_bytes + length) break;
        const type = buf[at + 3]!;
        const flags = buf[at + 4]!;
        const streamId = buf.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = buf.subarray(at + frame_header_bytes, at + frame_header_bytes + length);
        at += frame_header_bytes + length;
        this.handleFrame(type, flags, streamId, payload);
      }
    } catch (error) {
      this.fail(`protocol error from the server: ${(error as Error).message}`);
      return;
    }
    if (at < buf.length && this.closedWhy === null) this.input = Buffer.from(buf.subarray(at));
  }

  private handleFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuation !== null && type !== FrameType.CONTINUATION) throw new Error("expected CONTINUATION");
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, streamId, payload);
      case FrameType.HEADERS: {
        let block = unpad(flags, payload);
        if ((flags & Flag.PRIORITY) !== 0) block = block.subarray(5);
        const endStream = (flags & Flag.END_STREAM) !== 0;
        if ((flags & Flag.END_HEADERS) !== 0) return this.onHeaderBlock(streamId, endStream, block);
        this.continuation = { streamId, endStream, chunks: [Buffer.from(block)], bytes: block.length };
        return;
      }
      case FrameType.CONTINUATION: {
        const pending = this.continuation;
        if (pending === null || pending.streamId !== streamId) throw new Error("CONTINUATION without its HEADERS");
        pending.chunks.push(Buffer.from(payload));
        pending.bytes += payload.length;
        if (pending.bytes > header_block_max) throw new Error(`a header block over ${header_block_max} bytes`);
        if ((flags & Flag.END_HEADERS) === 0) return;
        this.continuation = null;
        return this.onHeaderBlock(streamId, pending.endStream, Buffer.concat(pending.chunks, pending.bytes));
      }
      case FrameType.RST_STREAM: {
        const exchange = this.streams.get(streamId);
        const code = payload.length === 4 ? payload.readUInt32BE(0) : -1;
        // RST_STREAM(NO_ERROR) after a complete answer only frees the stream (RFC 9113 §8.1).
        if (exchange !== undefined) this.finish(exchange, `the server reset the stream (RST_STREAM code ${code})`);
        return;
      }
      case FrameType.SETTINGS:
        return this.onSettings(flags, payload);
      case FrameType.PING:
        if ((flags & Flag.ACK) === 0) this.queueFrame(FrameType.PING, Flag.ACK, 0, payload);
        return;
      case FrameType.GOAWAY: {
        const code = payload.length >= 8 ? payload.readUInt32BE(4) : -1;
        const debug = payload.subarray(8).toString("utf8");
        return this.fail(`GOAWAY from the server (code ${code}${debug === "" ? "" : `: ${debug}`})`);
      }
      case FrameType.WINDOW_UPDATE: {
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        // Stream windows: every request is one DATA frame within the initial window, so only the connection's counts.
        if (streamId === 0) {
          this.sendWindow += increment;
          if (this.sendWindow > window_max) throw new Error("connection window above 2^31-1");
          this.sendWaiting();
        }
        return;
      }
      case FrameType.PUSH_PROMISE:
        throw new Error("PUSH_PROMISE although ENABLE_PUSH is 0");
      default:
        return; // PRIORITY and unknown types are ignored (§5.5)
    }
  }

  private onSettings(flags: number, payload: Buffer): void {
    if ((flags & Flag.ACK) !== 0) return;
    for (let at = 0; at + 6 <= payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.INITIAL_WINDOW_SIZE) this.peerStreamWindow = value;
      else if (id === Setting.MAX_FRAME_SIZE) this.peerMaxFrame = value;
      else if (id === Setting.MAX_CONCURRENT_STREAMS) this.peerMaxStreams = value;
    }
    this.queue(settings_ack);
    this.settingsSeen?.();
    this.settingsSeen = null;
    this.sendWaiting();
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    // The whole frame counts against the windows, padding included (§6.9.1).
    this.recvUnacked += payload.length;
    if (this.recvUnacked >= connection_window / 2) {
      this.queueFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(this.recvUnacked));
      this.recvUnacked = 0;
    }
    const exchange = this.streams.get(streamId);
    if (exchange === undefined) return; // cancelled by us (expire) meanwhile
    const data = unpad(flags, payload);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (exchange.headerBlocks !== 1) return this.finish(exchange, "DATA before the response headers or after the trailers");
    if (data.length > 0) {
      // A copy: the trailers (and so the check) may come in a later chunk, after the socket reused this one.
      exchange.data = exchange.data === null ? Buffer.from(data) : Buffer.concat([exchange.data, data]);
    }
    if (!endStream) {
      exchange.recvUnacked += payload.length;
      if (exchange.recvUnacked >= stream_window / 2) {
        this.queueFrame(FrameType.WINDOW_UPDATE, 0, streamId, u32(exchange.recvUnacked));
        exchange.recvUnacked = 0;
      }
      return;
    }
    this.finish(exchange, exchange.grpcStatus === null ? "the answer ended without trailers (no grpc-status)" : null);
  }

  private onHeaderBlock(streamId: number, endStream: boolean, block: Buffer): void {
    // Decode first, always: the dynamic table is the connection's (RFC 7541 §2.3.2).
    const generation = this.decoder.generation;
    let fields: readonly HeaderField[] | undefined = this.blocks.find(block, generation)?.fields;
    if (fields === undefined) {
      fields = this.decoder.decode(block);
      if (this.decoder.generation === generation) this.blocks.add(block, generation, fields);
    }
    const exchange = this.streams.get(streamId);
    if (exchange === undefined) return;
    exchange.headerBlocks++;
    for (const [name, value] of fields) {
      if (name === ":status") exchange.status = value;
      else if (name === "grpc-status") exchange.grpcStatus = value;
      else if (name === "grpc-message") exchange.grpcMessage = value;
    }
    if (exchange.headerBlocks === 1 && exchange.status === null) return this.finish(exchange, "response headers without :status");
    if (exchange.headerBlocks === 2 && !endStream) return this.finish(exchange, "trailers without END_STREAM");
    if (endStream) this.finish(exchange, exchange.grpcStatus === null ? "the answer ended without grpc-status" : null);
  }

  private finish(exchange: Exchange, error: string | null): void {
    if (!this.streams.delete(exchange.id)) return;
    exchange.done(error, exchange);
  }

  /** fail: the connection is over; every exchange in flight or waiting is told `why`. */
  private fail(why: string): void {
    if (this.closedWhy !== null) return;
    this.closedWhy = why;
    const pending = [...this.streams.values(), ...this.waiting];
    this.streams.clear();
    this.waiting = [];
    this.socket?.end();
    for (const exchange of pending) exchange.done(why, exchange);
  }
}

function unpad(flags: number, payload: Buffer): Buffer {
  if ((flags & Flag.PADDED) === 0) return payload;
  const pad = payload[0] ?? 0;
  if (pad >= payload.length) throw new Error("padding longer than the frame");
  return payload.subarray(1, payload.length - pad);
}

function u32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}
