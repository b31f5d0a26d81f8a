// One gRPC call on one HTTP/2 stream, with the surface of grpc-js's server calls that the services use (request,
// metadata, sendMetadata, write/end with backpressure, 'data'/'end'/'cancelled'/'drain', emit("error", status)),
// so the handlers of kv_service.ts ... watch_service.ts (and auth's token check on call.metadata) run unchanged.
import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { Metadata, status as grpcStatus } from "@grpc/grpc-js";
import type { Msg } from "./codec.ts";
import { frame, grpc_content_type, grpcMessage } from "./wire.ts";

/** StatusObject: how a handler ends a call with an error (grpc-js's ServiceError shape). */
export interface CallStatus {
  code: grpcStatus;
  details?: string;
  message?: string;
  metadata?: Metadata;
}

/**
 * coalesce_bytes_max: answers written in one event-loop turn are held and go out as one stream.write (one DATA
 * frame run, one socket write instead of one per answer: 1,000 watch answers of 87 bytes were 1,000 sendto calls);
 * past this many held bytes they go out at once, so the held buffer stays bounded.
 */
const coalesce_bytes_max = 64 * 1024;

/**
 * unsent_bytes_high_water_mark: held plus written-but-unconfirmed bytes before writableNeedDrain (the answer
 * count alone, grpc-js's 16, would stop a 1,000-watch fan-out after 16 answers a turn).
 */
const unsent_bytes_high_water_mark = 256 * 1024;

/** MethodCodec: a method's (de)serializers, proto-loader's generated ones (the same grpc-js used). */
export interface MethodCodec {
  path: string;
  requestDeserialize(bytes: Buffer): Msg;
  responseSerialize(message: Msg): Buffer;
}

/**
 * ServerCall: headers go out with the first answer (or with the status: a trailers-only response); the status
 * goes out once, as trailers. A stream the client reset or that closed is never written again (Bun's
 * node:http2 throws on a destroyed stream, BUN-NOTES §9).
 */
export class ServerCall extends EventEmitter {
  request: Msg | undefined = undefined;
  cancelled = false;
  private headersSent = false;
  private finished = false;
  private extraHeaders: OutgoingHttpHeaders | null = null;
  private trailers: OutgoingHttpHeaders | null = null;
  private metadataCache: Metadata | null = null;
  /** unsent: answers written and not yet handed to the socket (held ones included). */
  private unsent = 0;
  private unsentBytes = 0;
  private needDrain = false;
  /** held: this turn's framed answers, flushed by one setImmediate, before the status, or past coalesce_bytes_max. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private flushScheduled = false;
  private deadline: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly codec: MethodCodec,
  ) {
    super();
    // The default 'error' listener sends the status: handlers end a call with call.emit("error", status) as in grpc-js.
    this.on("error", (status: CallStatus) => this.finish(status));
    stream.on("wantTrailers", () => {
      if (!stream.destroyed) stream.sendTrailers(this.trailers ?? { "grpc-status": "0" });
    });
    stream.on("close", () => {
      this.clearDeadline();
      if (this.finished) return;
      this.finished = true;
      this.cancelled = true;
      this.emit("cancelled", "cancelled");
    });
  }

  /** metadata: the request headers as grpc-js Metadata (built on first use; most calls never read it). */
  get metadata(): Metadata {
    this.metadataCache ??= Metadata.fromHttp2Headers(this.headers);
    return this.metadataCache;
  }

  getPeer(): string {
    const socket = this.stream.session?.socket;
    return socket === undefined ? "unknown" : `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /** setDeadline: the client's grpc-timeout; past it the call ends DEADLINE_EXCEEDED and counts as cancelled. */
  setDeadline(ms: number): void {
    this.deadline = setTimeout(() => {
      this.deadline = null;
      if (this.finished) return;
      this.finish({ code: grpcStatus.DEADLINE_EXCEEDED, details: "Deadline exceeded" });
      this.cancelled = true;
      this.emit("cancelled", "deadline");
    }, ms);
  }

  sendMetadata(metadata: Metadata): void {
    if (this.headersSent) return;
    this.extraHeaders = { ...this.extraHeaders, ...metadata.toHttp2Headers() };
  }

  /**
   * write sends one answer (held until the end of this turn, see coalesce_bytes_max); false: wait for 'drain',
   * which comes once the stream took everything written (writableLength counts answers, as grpc-js's object mode).
   */
  write(message: Msg): boolean {
    if (this.finished || this.stream.destroyed) return false;
    let bytes: Buffer;
    try {
      bytes = this.codec.responseSerialize(message);
    } catch (error) {
      this.finish({ code: grpcStatus.INTERNAL, details: `cannot serialize the answer of ${this.codec.path}: ${(error as Error).message}` });
      return false;
    }
    this.sendHeaders();
    this.unsent++;
    const framed = frame(bytes);
    this.held.push(framed);
    this.heldBytes += framed.length;
    this.unsentBytes += framed.length;
    if (this.unsentBytes >= unsent_bytes_high_water_mark) this.needDrain = true;
    if (this.heldBytes >= coalesce_bytes_max) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return !this.needDrain;
  }

  /** flush writes the held answers as one buffer; the stream's answer (false: its buffer is full) sets needDrain. */
  private flush(): void {
    if (this.held.length === 0) return;
    const count = this.held.length;
    const size = this.heldBytes;
    const bytes = count === 1 ? this.held[0]! : Buffer.concat(this.held, size);
    this.held = [];
    this.heldBytes = 0;
    if (this.stream.destroyed || this.stream.closed) return;
    let room: boolean;
    try {
      room = this.stream.write(bytes, () => {
        this.unsent -= count;
        this.unsentBytes -= size;
        if (this.unsent === 0 && this.needDrain) {
          this.needDrain = false;
          this.emit("drain");
        }
      });
    } catch {
      return; // the stream went away between the check and the write (BUN-NOTES §9): nobody is left to read
    }
    if (!room) this.needDrain = true;
  }

  get writableLength(): number {
    return this.unsent;
  }

  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  /** end: the call succeeded (status OK after what was written). */
  end(): void {
    this.finish({ code: grpcStatus.OK, details: "OK" });
  }

  /** finish sends the status once: as trailers after answers, or trailers-only when nothing was sent. */
  finish(status: CallStatus): void {
    if (this.finished) return;
    this.finished = true;
    this.clearDeadline();
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const trailers: OutgoingHttpHeaders = status.metadata === undefined ? {} : status.metadata.toHttp2Headers();
    trailers["grpc-status"] = String(status.code);
    const details = status.details ?? status.message ?? "";
    if (details !== "") trailers["grpc-message"] = grpcMessage(details);
    try {
      if (this.headersSent) {
        this.flush(); // the held answers go before the status
        this.trailers = trailers;
        stream.end();
      } else {
        this.headersSent = true;
        stream.respond({ ...this.extraHeaders, ":status": 200, "content-type": grpc_content_type, ...trailers }, { endStream: true });
      }
    } catch {
      // The stream went away between the check and the write: nobody is left to answer.
    }
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const headers: OutgoingHttpHeaders = { ":status": 200, "content-type": grpc_content_type };
    this.stream.respond(this.extraHeaders === null ? headers : { ...this.extraHeaders, ...headers }, { waitForTrailers: true });
  }

  private clearDeadline(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
  }
}
