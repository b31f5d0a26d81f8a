// One HTTP/2 stream on the server's side, with the surface of node:http2's ServerHttp2Stream that ServerCall
// and serve() use (respond/write/end/sendTrailers; 'data'/'end'/'close'/'error'/'wantTrailers'; destroyed,
// closed, session.socket), so call.ts and the services run unchanged on this server and on node:http2 (TLS).
import { EventEmitter } from "node:events";
import { assert } from "../../../shared/assert.ts";
import { encodeHeaders, type HeaderField } from "./hpack.ts";

/** stream_high_water_bytes: queued answer bytes of one stream past which write() returns false. */
export const stream_high_water_bytes = 64 * 1024;

export type OutgoingHeaders = Record<string, string | number | readonly string[] | undefined>;

/** SendItem: what a stream has to send, in order: a header block, answer bytes, or the end of its answers. */
export type SendItem =
  | { kind: "headers"; block: Uint8Array; endStream: boolean }
  | { kind: "data"; bytes: Uint8Array; offset: number; done: (() => void) | undefined }
  | { kind: "end" };

/** StreamOwner: the connection, as a stream sees it. */
export interface StreamOwner {
  /** pump sends what `stream` has queued as far as the windows and the socket allow. */
  pump(stream: H2Stream): void;
  /** reset ends `stream` with RST_STREAM(code) (the stream is closed afterwards). */
  reset(stream: H2Stream, code: number): void;
  readonly peer: { remoteAddress: string; remotePort: number };
}

/**
 * H2Stream. Invariants: queuedBytes is the unsent bytes of the data items in `queue`; once closed, nothing is
 * queued or sent; the local side ends once (END_STREAM on headers or an empty DATA).
 */
export class H2Stream extends EventEmitter {
  /** sendWindow: what the peer lets us send on this stream (its SETTINGS_INITIAL_WINDOW_SIZE plus WINDOW_UPDATEs). */
  sendWindow: number;
  /** recvWindow: what the peer may still send before our next WINDOW_UPDATE; recvUnacked: consumed, not yet announced. */
  recvWindow: number;
  recvUnacked = 0;
  readonly queue: SendItem[] = [];
  queuedBytes = 0;
  remoteEnded = false;
  localEnded = false;
  private headersSent = false;
  private waitForTrailers = false;
  private isClosed = false;
  readonly session: { socket: { remoteAddress: string; remotePort: number } };

  constructor(
    readonly id: number,
    private readonly owner: StreamOwner,
    sendWindow: number,
    recvWindow: number,
  ) {
    super();
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    this.session = { socket: owner.peer };
  }

  get destroyed(): boolean {
    return this.isClosed;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** respond sends the response headers; endStream: they are the whole answer (trailers-only). */
  respond(headers: OutgoingHeaders, options?: { endStream?: boolean; waitForTrailers?: boolean }): void {
    if (this.isClosed) throw new Error("The stream has been destroyed");
    assert(!this.headersSent, "respond once per stream");
    this.headersSent = true;
    const endStream = options?.endStream === true;
    this.waitForTrailers = options?.waitForTrailers === true;
    this.push({ kind: "headers", block: headerBlock(headers), endStream });
  }

  /** write queues `bytes` as DATA; false: past stream_high_water_bytes (the caller waits for `done`). */
  write(bytes: Uint8Array, done?: () => void): boolean {
    if (this.isClosed) return false;
    assert(this.headersSent, "respond before write");
    this.queuedBytes += bytes.length;
    this.push({ kind: "data", bytes, offset: 0, done });
    return this.queuedBytes < stream_high_water_bytes;
  }

  /** end: no more answers; then 'wantTrailers' (respond's waitForTrailers) or an empty END_STREAM DATA. */
  end(): void {
    if (this.isClosed) return;
    this.push({ kind: "end" });
  }

  /**
   * answer: a whole unary answer at once: `headers`, one DATA of `bytes`, then `trailers` ending the stream.
   * The same frames as respond + write + end + sendTrailers, queued and pumped once (no 'wantTrailers' turn).
   */
  answer(headers: OutgoingHeaders, bytes: Uint8Array, trailers: OutgoingHeaders): void {
    if (this.isClosed) return;
    assert(!this.headersSent, "respond once per stream");
    this.headersSent = true;
    this.queuedBytes += bytes.length;
    this.queue.push(
      { kind: "headers", block: headerBlock(headers), endStream: false },
      { kind: "data", bytes, offset: 0, done: undefined },
      { kind: "headers", block: headerBlock(trailers), endStream: true },
    );
    this.owner.pump(this);
  }

  sendTrailers(headers: OutgoingHeaders): void {
    if (this.isClosed) throw new Error("The stream has been destroyed");
    this.push({ kind: "headers", block: headerBlock(headers), endStream: true });
  }

  /** close ends the stream without an answer (RST_STREAM CANCEL), as node's stream.close() does. */
  close(code = 0x8): void {
    if (!this.isClosed) this.owner.reset(this, code);
  }

  /** onEnd: the connection pumped the "end" item. */
  reachedEnd(): boolean {
    if (!this.waitForTrailers) return false;
    this.waitForTrailers = false;
    this.emit("wantTrailers");
    return true;
  }

  /** markClosed: the connection closed the stream (both sides ended, a reset, or the connection went away). */
  markClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    // Listeners run after the current frame is handled, as node's 'close' does (never inside a respond()).
    queueMicrotask(() => this.emit("close"));
  }

  private push(item: SendItem): void {
    this.queue.push(item);
    this.owner.pump(this);
  }
}

/** block_cache_max: distinct header sets whose encoding is kept (a call's headers and OK trailers repeat every call). */
const block_cache_max = 64;
/** block_cache_key_max: longer header sets (error texts, metadata) are encoded each time, not kept. */
const block_cache_key_max = 256;
const block_cache = new Map<string, Uint8Array>();
/** block_by_object: header objects seen before (module constants; a WeakMap lets per-call objects go). */
const block_by_object = new WeakMap<object, Uint8Array>();

/** headerBlock: `headers` HPACK-encoded, from block_cache when the same set was encoded before (the encoder is stateless). */
function headerBlock(headers: OutgoingHeaders): Uint8Array {
  // The same object again (call.ts's ok_headers, ok_trailers): no key to build.
  const same = block_by_object.get(headers);
  if (same !== undefined) return same;
  let key = "";
  for (const name in headers) key += `${name}\0${String(headers[name])}\0`;
  const cached = block_cache.get(key);
  if (cached !== undefined) return cached;
  const block = encodeHeaders(fields(headers));
  if (key.length <= block_cache_key_max && block_cache.size < block_cache_max) {
    block_cache.set(key, block);
    block_by_object.set(headers, block);
  }
  return block;
}

/** fields: node-style outgoing headers as HPACK fields (pseudo-headers first, §8.3). */
function fields(headers: OutgoingHeaders): HeaderField[] {
  const out: HeaderField[] = [];
  const status = headers[":status"];
  if (status !== undefined) out.push([":status", String(status)]);
  for (const name in headers) {
    if (name === ":status") continue;
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (Array.isArray(value)) for (const v of value) out.push([lower, String(v)]);
    else out.push([lower, String(value)]);
  }
  return out;
}
