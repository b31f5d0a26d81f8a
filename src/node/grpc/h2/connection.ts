// One HTTP/2 server connection (RFC 9113) over a byte sink: the preface, SETTINGS, the frames a client sends,
// HPACK state, stream lifecycles and flow control both ways. No I/O of its own: server.ts feeds it a socket's
// bytes and drain events, and the tests feed it bytes directly.
import type { IncomingHttpHeaders } from "node:http2";
import { assert } from "../../../shared/assert.ts";
import { SortedSlots } from "../../../shared/sorted_slots.ts";
import {
  connection_preface,
  default_frame_size,
  default_window,
  ErrorCode,
  Flag,
  frame_header_bytes,
  frame_size_max,
  FrameType,
  goawayFrame,
  H2ConnectionError,
  rstStreamFrame,
  Setting,
  settings_ack,
  settingsFrame,
  window_max,
  windowUpdateFrame,
} from "./frames.ts";
import { BlockCache, type CachedBlock } from "./block_cache.ts";
import { FrameOut } from "./frame_out.ts";
import { type HeaderField, HpackDecoder, HpackError } from "./hpack.ts";
import { H2Stream, type StreamOwner } from "./stream.ts";

/** Sink: where the connection's bytes go (a Bun socket): write returns the bytes accepted (-1: closed). */
export interface Sink {
  write(bytes: Uint8Array): number;
  close(): void;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

export interface H2Limits {
  /** maxConcurrentStreams: SETTINGS_MAX_CONCURRENT_STREAMS; a stream past it is refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** streamWindow: SETTINGS_INITIAL_WINDOW_SIZE we give each stream; connectionWindow: the connection's. */
  streamWindow: number;
  connectionWindow: number;
  /** headerBlockMax: the largest header block (HEADERS + CONTINUATIONs) accepted; SETTINGS_MAX_HEADER_LIST_SIZE. */
  headerBlockMax: number;
  /** socketHighWater: unwritten bytes past which no more DATA is moved from the streams to the socket. */
  socketHighWater: number;
  /** unwrittenMax: unwritten bytes (control frames a peer provokes without reading) past which the connection ends. */
  unwrittenMax: number;
}

export const default_h2_limits: H2Limits = {
  maxConcurrentStreams: 1_024,
  streamWindow: 1 << 20,
  connectionWindow: 8 << 20,
  headerBlockMax: 64 * 1024,
  socketHighWater: 256 * 1024,
  unwrittenMax: 4 << 20,
};

/** header_table_size: SETTINGS_HEADER_TABLE_SIZE (left at the default 4,096: the decoder's dynamic table). */
const header_table_size = 4_096;

export type OnStream = (stream: H2Stream, headers: IncomingHttpHeaders) => void;

/**
 * H2Connection. Invariants: streams holds the open streams (ids odd, below or at lastStreamId); sendWindow and
 * each stream's sendWindow never go below 0 from our DATA; frames is behind only while the sink is full.
 */
export class H2Connection implements StreamOwner {
  /** streams: the open streams by id (SortedSlots, not a Map: see there; a peer's stream ids only rise). */
  readonly streams = new SortedSlots<H2Stream>((stream) => stream.id);
  readonly peer: { remoteAddress: string; remotePort: number };
  private readonly decoder = new HpackDecoder(header_table_size);
  private readonly blocks = new BlockCache();
  private prefaceSeen = false;
  private settingsSeen = false;
  private input: Buffer | null = null;
  private lastStreamId = 0;
  /** continuation: a header block waiting for its CONTINUATION frames (§6.10). */
  private continuation: { streamId: number; endStream: boolean; chunks: Buffer[]; bytes: number } | null = null;
  /** peer's settings that shape what we send. */
  private peerStreamWindow = default_window;
  private peerMaxFrame = default_frame_size;
  private sendWindow = default_window;
  private recvWindow = default_window;
  private recvUnacked = 0;
  /** frames: what is queued for the next flush and what the sink did not take yet (frame_out.ts). */
  private readonly frames = new FrameOut();
  private doneCallbacks: (() => void)[] = [];
  private flushQueued = false;
  /** blocked: streams with queued items waiting for a window or for the socket. */
  private readonly blocked = new Set<H2Stream>();
  private goawaySent = false;
  private isClosed = false;
  /** closing: the connection closes once what is queued is written (after a GOAWAY with no streams left, or an error). */
  private closing = false;
  /** onClosed: called once when the connection closed (a GOAWAY drained, an error, or the socket went away). */
  onClosed: (() => void) | null = null;

  constructor(
    private readonly sink: Sink,
    private readonly onStream: OnStream,
    private readonly limits: H2Limits = default_h2_limits,
    private readonly onInternalError: (error: unknown) => void = (error) => console.error("HTTP/2 connection:", error),
  ) {
    assert(limits.streamWindow <= window_max && limits.connectionWindow <= window_max, "windows fit in 31 bits");
    assert(limits.connectionWindow >= default_window, "the connection window only grows");
    this.peer = { remoteAddress: sink.remoteAddress, remotePort: sink.remotePort };
    this.queue(
      settingsFrame([
        [Setting.MAX_CONCURRENT_STREAMS, limits.maxConcurrentStreams],
        [Setting.INITIAL_WINDOW_SIZE, limits.streamWindow],
        [Setting.MAX_HEADER_LIST_SIZE, limits.headerBlockMax],
        [Setting.ENABLE_PUSH, 0],
      ]),
    );
    if (limits.connectionWindow > default_window) {
      this.queue(windowUpdateFrame(0, limits.connectionWindow - default_window));
      this.recvWindow = limits.connectionWindow;
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** receive handles bytes from the peer; a protocol violation ends the connection with GOAWAY, never a throw. */
  receive(chunk: Buffer): void {
    if (this.isClosed) return;
    const buf = this.input === null ? chunk : Buffer.concat([this.input, chunk]);
    this.input = null;
    let at = 0;
    try {
      if (!this.prefaceSeen) {
        const n = Math.min(buf.length, connection_preface.length);
        if (buf.compare(connection_preface, 0, n, 0, n) !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "not an HTTP/2 connection preface");
        if (buf.length < connection_preface.length) {
          this.input = Buffer.from(buf);
          return;
        }
        this.prefaceSeen = true;
        at = connection_preface.length;
      }
      while (buf.length - at >= frame_header_bytes && !this.isClosed) {
        const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
        // Our SETTINGS_MAX_FRAME_SIZE is the default: a larger frame is a FRAME_SIZE_ERROR (§4.2).
        if (length > default_frame_size) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes`);
        if (buf.length - at < frame_header_bytes + length) break;
        const type = buf[at + 3]!;
        const flags = buf[at + 4]!;
        const streamId = buf.readUInt32BE(at + 5) & 0x7fffffff;
        const payload = buf.subarray(at + frame_header_bytes, at + frame_header_bytes + length);
        at += frame_header_bytes + length;
        this.handleFrame(type, flags, streamId, payload);
      }
      if (at < buf.length && !this.isClosed) this.input = Buffer.from(buf.subarray(at));
    } catch (error) {
      if (error instanceof H2ConnectionError) this.fail(error.code, error.message);
      else if (error instanceof HpackError) this.fail(ErrorCode.COMPRESSION_ERROR, error.message);
      else {
        // A handler's bug: this connection ends (INTERNAL_ERROR), the process and other connections go on.
        this.fail(ErrorCode.INTERNAL_ERROR, "internal error");
        this.onInternalError(error);
      }
    }
  }

  /** drain: the sink can take bytes again. */
  drain(): void {
    if (this.isClosed) return;
    this.flush();
  }

  /** goaway starts a graceful close: no new streams, the open ones finish, then the connection closes. */
  goaway(): void {
    if (this.isClosed || this.goawaySent) return;
    this.goawaySent = true;
    this.queue(goawayFrame(this.lastStreamId, ErrorCode.NO_ERROR, ""));
    if (this.streams.size === 0) this.closeAfterFlush();
  }

  /** destroy closes the connection now: every open stream is closed (its call is cancelled). */
  destroy(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const stream of this.streams.takeAll()) stream.markClosed();
    this.blocked.clear();
    this.sink.close();
    this.onClosed?.();
  }

  /** socketClosed: the peer or the network closed the socket. */
  socketClosed(): void {
    this.destroy();
  }

  // ---- frames received -------------------------------------------------------------------------------------

  private handleFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsSeen && type !== FrameType.SETTINGS) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "the preface must be followed by SETTINGS");
    if (this.continuation !== null && type !== FrameType.CONTINUATION) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION");
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, streamId, payload);
      case FrameType.HEADERS:
        return this.onHeaders(flags, streamId, payload);
      case FrameType.PRIORITY:
        if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (payload.length !== 5) this.resetId(streamId, ErrorCode.FRAME_SIZE_ERROR);
        return;
      case FrameType.RST_STREAM:
        return this.onRstStream(streamId, payload);
      case FrameType.SETTINGS:
        return this.onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "a client cannot push");
      case FrameType.PING:
        if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "PING of a length other than 8");
        if ((flags & Flag.ACK) === 0) this.queueFrame(FrameType.PING, Flag.ACK, 0, payload);
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY shorter than 8 bytes");
        // The client opens no new streams; the open ones finish, then we close.
        this.goaway();
        return;
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload);
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, streamId, payload);
      default:
        // Unknown frame types are ignored (§4.1, §5.5).
        return;
    }
  }

  /** unpad strips a PADDED frame's padding (§6.1, §6.2); too much padding is a PROTOCOL_ERROR. */
  private unpad(flags: number, payload: Buffer): Buffer {
    if ((flags & Flag.PADDED) === 0) return payload;
    if (payload.length < 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "padded frame without a pad length");
    const pad = payload[0]!;
    if (pad >= payload.length) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "padding longer than the frame");
    return payload.subarray(1, payload.length - pad);
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    if (streamId > this.lastStreamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "DATA on an idle stream");
    // The whole frame counts against the windows, padding included (§6.9.1).
    this.recvWindow -= payload.length;
    if (this.recvWindow < 0) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "the peer sent past the connection window");
    this.consumed(payload.length);
    const data = this.unpad(flags, payload);
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.remoteEnded) {
      if (stream !== undefined) this.reset(stream, ErrorCode.STREAM_CLOSED);
      else this.queue(rstStreamFrame(streamId, ErrorCode.STREAM_CLOSED));
      return;
    }
    stream.recvWindow -= payload.length;
    if (stream.recvWindow < 0) {
      this.reset(stream, ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (!endStream) {
      // Delivered data is consumed at once (serve() bounds a message by maxMessageBytes): give it back.
      stream.recvUnacked += payload.length;
      if (stream.recvUnacked >= this.limits.streamWindow / 2) {
        this.queue(windowUpdateFrame(streamId, stream.recvUnacked));
        stream.recvWindow += stream.recvUnacked;
        stream.recvUnacked = 0;
      }
    }
    if (data.length > 0) stream.emit("data", data);
    if (endStream) this.remoteEnd(stream);
  }

  /** consumed: `n` bytes of DATA read on the connection; WINDOW_UPDATE once half the window is used. */
  private consumed(n: number): void {
    this.recvUnacked += n;
    if (this.recvUnacked >= this.limits.connectionWindow / 2) {
      this.queue(windowUpdateFrame(0, this.recvUnacked));
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0 || streamId % 2 === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId}`);
    let block = this.unpad(flags, payload);
    if ((flags & Flag.PRIORITY) !== 0) {
      if (block.length < 5) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short for its priority");
      block = block.subarray(5);
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if ((flags & Flag.END_HEADERS) !== 0) {
      this.onHeaderBlock(streamId, endStream, block);
      return;
    }
    this.continuation = { streamId, endStream, chunks: [Buffer.from(block)], bytes: block.length };
    this.checkBlockSize(this.continuation.bytes);
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const pending = this.continuation;
    if (pending === null || pending.streamId !== streamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without its HEADERS");
    pending.chunks.push(Buffer.from(payload));
    pending.bytes += payload.length;
    this.checkBlockSize(pending.bytes);
    if ((flags & Flag.END_HEADERS) === 0) return;
    this.continuation = null;
    this.onHeaderBlock(streamId, pending.endStream, Buffer.concat(pending.chunks, pending.bytes));
  }

  private checkBlockSize(bytes: number): void {
    if (bytes > this.limits.headerBlockMax) throw new H2ConnectionError(ErrorCode.ENHANCE_YOUR_CALM, `header block over ${this.limits.headerBlockMax} bytes`);
  }

  private onHeaderBlock(streamId: number, endStream: boolean, block: Buffer): void {
    // Decode first, always: the dynamic table is shared by every stream of the connection (§4.3).
    const decoder = this.decoder;
    const generation = decoder.generation;
    let cached: CachedBlock | null = this.blocks.find(block, generation);
    let fields: readonly HeaderField[];
    if (cached !== null) fields = cached.fields;
    else {
      fields = decoder.decode(block);
      if (decoder.generation === generation) cached = this.blocks.add(block, generation, fields);
    }
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // Trailers from the client: they must end the stream (§8.1).
      if (!endStream || existing.remoteEnded) this.reset(existing, ErrorCode.PROTOCOL_ERROR);
      else this.remoteEnd(existing);
      return;
    }
    if (streamId <= this.lastStreamId) throw new H2ConnectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${streamId}`);
    this.lastStreamId = streamId;
    if (this.goawaySent) {
      this.queue(rstStreamFrame(streamId, ErrorCode.REFUSED_STREAM));
      return;
    }
    if (this.streams.size >= this.limits.maxConcurrentStreams) {
      this.queue(rstStreamFrame(streamId, ErrorCode.REFUSED_STREAM));
      return;
    }
    let headers = cached?.headers ?? null;
    if (headers === null) {
      headers = requestHeaders(fields);
      if (headers === null) {
        this.queue(rstStreamFrame(streamId, ErrorCode.PROTOCOL_ERROR));
        return;
      }
      if (cached !== null) cached.headers = Object.freeze(headers);
    }
    const stream = new H2Stream(streamId, this, this.peerStreamWindow, this.limits.streamWindow);
    if (!this.streams.insert(stream)) assert(false, `h2: stream ${streamId} opened below an open one`);
    // A request complete in its HEADERS is half-closed before the handler sees it (an answer then needs no reset).
    stream.remoteEnded = endStream;
    this.onStream(stream, headers as IncomingHttpHeaders);
    if (endStream && !stream.closed) {
      stream.emit("end");
      if (stream.localEnded) this.closeStream(stream);
    }
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM of a length other than 4");
    if (streamId > this.lastStreamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    const stream = this.streams.get(streamId);
    if (stream !== undefined) this.closeStream(stream);
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & Flag.ACK) !== 0) {
      if (payload.length !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      return;
    }
    if (payload.length % 6 !== 0) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS not a multiple of 6 bytes");
    this.settingsSeen = true;
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === Setting.ENABLE_PUSH && value > 1) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH above 1");
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > window_max) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE above 2^31-1");
        // §6.9.2: the change applies to every open stream's window, which may go negative.
        const delta = value - this.peerStreamWindow;
        this.peerStreamWindow = value;
        this.streams.forEach((stream) => {
          stream.sendWindow += delta;
          if (stream.sendWindow > window_max) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "a stream window above 2^31-1");
        });
      }
      if (id === Setting.MAX_FRAME_SIZE) {
        if (value < default_frame_size || value > frame_size_max) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, `MAX_FRAME_SIZE ${value}`);
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE: our encoder uses no dynamic table, so any size suits it. Others: nothing to do.
    }
    this.queue(settings_ack);
    this.streams.forEach((stream) => {
      if (stream.queue.length > 0) this.pump(stream);
    });
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE of a length other than 4");
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.sendWindow += increment;
      if (this.sendWindow > window_max) throw new H2ConnectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window above 2^31-1");
      this.pumpBlocked();
      return;
    }
    if (streamId > this.lastStreamId) throw new H2ConnectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (increment === 0) return this.reset(stream, ErrorCode.PROTOCOL_ERROR);
    stream.sendWindow += increment;
    if (stream.sendWindow > window_max) return this.reset(stream, ErrorCode.FLOW_CONTROL_ERROR);
    this.pump(stream);
  }

  private remoteEnd(stream: H2Stream): void {
    if (stream.closed) return;
    stream.remoteEnded = true;
    stream.emit("end");
    if (stream.localEnded) this.closeStream(stream);
  }

  // ---- sending ---------------------------------------------------------------------------------------------

  /** pump moves `stream`'s queued items to the socket in order, as far as the windows and the socket allow. */
  pump(stream: H2Stream): void {
    if (this.isClosed || stream.closed) return;
    const queue = stream.queue;
    while (queue.length > 0 && !stream.closed) {
      const item = queue[0]!;
      if (item.kind === "headers") {
        queue.shift();
        this.sendHeaderBlock(stream.id, item.block, item.endStream);
        if (item.endStream) this.localEnd(stream);
      } else if (item.kind === "data") {
        if (this.pendingBytes() >= this.limits.socketHighWater) break;
        const left = item.bytes.length - item.offset;
        const n = Math.min(left, stream.sendWindow, this.sendWindow, this.peerMaxFrame);
        if (n <= 0 && left > 0) break;
        // A whole message in one frame (almost every answer) needs no view of it.
        const whole = item.offset === 0 && n === item.bytes.length;
        this.queueFrame(FrameType.DATA, 0, stream.id, whole ? item.bytes : item.bytes.subarray(item.offset, item.offset + n));
        stream.sendWindow -= n;
        this.sendWindow -= n;
        item.offset += n;
        stream.queuedBytes -= n;
        if (item.offset === item.bytes.length) {
          queue.shift();
          if (item.done !== undefined) this.doneCallbacks.push(item.done);
        }
      } else {
        queue.shift();
        // 'wantTrailers' makes the listener call sendTrailers, which queues (and pumps) the trailers.
        if (!stream.reachedEnd()) {
          this.queueFrame(FrameType.DATA, Flag.END_STREAM, stream.id, null);
          this.localEnd(stream);
        }
      }
    }
    if (queue.length > 0 && !stream.closed) this.blocked.add(stream);
    else this.blocked.delete(stream);
  }

  /** reset ends `stream` with RST_STREAM(code). */
  reset(stream: H2Stream, code: number): void {
    if (stream.closed) return;
    this.queue(rstStreamFrame(stream.id, code));
    this.closeStream(stream);
  }

  private resetId(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    if (stream !== undefined) this.reset(stream, code);
    else this.queue(rstStreamFrame(streamId, code));
  }

  private localEnd(stream: H2Stream): void {
    stream.localEnded = true;
    if (stream.remoteEnded) this.closeStream(stream);
    // The answer is complete while the client still sends: tell it to stop (RFC 9113 §8.1), freeing the stream.
    else this.reset(stream, ErrorCode.NO_ERROR);
  }

  private closeStream(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    stream.markClosed();
    if (this.goawaySent && this.streams.size === 0) this.closeAfterFlush();
  }

  private sendHeaderBlock(streamId: number, block: Uint8Array, endStream: boolean): void {
    const max = this.peerMaxFrame;
    const endFlag = endStream ? Flag.END_STREAM : 0;
    if (block.length <= max) {
      this.queueFrame(FrameType.HEADERS, endFlag | Flag.END_HEADERS, streamId, block);
      return;
    }
    for (let at = 0; at < block.length; at += max) {
      const last = at + max >= block.length;
      const type = at === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (at === 0 ? endFlag : 0) | (last ? Flag.END_HEADERS : 0);
      this.queueFrame(type, flags, streamId, block.subarray(at, Math.min(at + max, block.length)));
    }
  }

  private pumpBlocked(): void {
    for (const stream of [...this.blocked]) this.pump(stream);
  }

  private pendingBytes(): number {
    return this.frames.pendingBytes;
  }

  /** queue adds a frame for the next flush (one socket write per turn for every stream's frames). */
  private queue(bytes: Uint8Array): void {
    if (this.isClosed) return;
    this.frames.queue(bytes);
    this.queued();
  }

  /** queueFrame: queue() of frame(type, flags, streamId, payload), its header and payload written in place. */
  private queueFrame(type: number, flags: number, streamId: number, payload: Uint8Array | null): void {
    if (this.isClosed) return;
    this.frames.queueFrame(type, flags, streamId, payload);
    this.queued();
  }

  private queued(): void {
    if (this.pendingBytes() > this.limits.unwrittenMax) {
      // A peer that provokes frames (PINGs, SETTINGS, resets) without reading them: end it, keep nothing.
      this.destroy();
      return;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.isClosed) return;
    if (!this.frames.writeTo((bytes) => this.sink.write(bytes))) return this.destroy();
    const done = this.doneCallbacks;
    if (done.length > 0) {
      this.doneCallbacks = [];
      for (const callback of done) callback();
    }
    // Room again: streams waiting for the socket go on.
    if (!this.frames.behind && this.blocked.size > 0) this.pumpBlocked();
    if (this.closing && this.frames.pendingBytes === 0) this.destroy();
  }

  private closeAfterFlush(): void {
    this.closing = true;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        this.flush();
      });
    }
  }

  /** fail: a connection error: GOAWAY(code) after what is queued, then the socket closes (§5.4.1). */
  private fail(code: number, message: string): void {
    if (this.isClosed) return;
    this.continuation = null;
    const goaway = goawayFrame(this.lastStreamId, code, message);
    this.frames.queue(goaway);
    this.goawaySent = true;
    for (const stream of this.streams.takeAll()) stream.markClosed();
    this.blocked.clear();
    this.closeAfterFlush();
  }
}

/**
 * requestHeaders: a request's decoded fields as node-style headers (repeated names joined with ", "), or null
 * when they break §8.2-8.3 (a pseudo-header after a regular one, an uppercase name, :method/:path/:scheme missing).
 */
function requestHeaders(fields: readonly HeaderField[]): IncomingHttpHeaders | null {
  const headers: IncomingHttpHeaders = {};
  let regularSeen = false;
  for (const [name, value] of fields) {
    const pseudo = name.charCodeAt(0) === 0x3a;
    if ((pseudo && regularSeen) || name !== name.toLowerCase()) return null;
    if (!pseudo) regularSeen = true;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : `${prior as string}, ${value}`;
  }
  if (headers[":method"] === undefined || headers[":path"] === undefined || headers[":scheme"] === undefined) return null;
  return headers;
}
