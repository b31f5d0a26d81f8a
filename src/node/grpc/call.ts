// One gRPC call on one HTTP/2 stream, with the surface of grpc-js's server calls that the services use (request,
// metadata, sendMetadata, write/end with backpressure, 'data'/'end'/'cancelled'/'drain', emit("error", status)),
// so the handlers of kv_service.ts ... watch_service.ts (and auth's token check on call.metadata) run unchanged.
import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
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
 * CallStream: what a call needs of its HTTP/2 stream: node:http2's ServerHttp2Stream (the TLS endpoint) and
 * h2/stream.ts's H2Stream (the plaintext endpoint) both are one.
 */
export interface CallStream {
  readonly destroyed: boolean;
  readonly closed: boolean;
  readonly session?: { readonly socket?: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined } | undefined } | undefined;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close" | "wantTrailers", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  respond(headers: OutgoingHttpHeaders, options?: { endStream?: boolean; waitForTrailers?: boolean }): void;
  write(chunk: Uint8Array, done?: () => void): boolean;
  /** answer (h2/stream.ts only): headers, one message and trailers in one go, for a unary call's answer. */
  answer?(headers: OutgoingHttpHeaders, bytes: Uint8Array, trailers: OutgoingHttpHeaders): void;
  end(): void;
  sendTrailers(headers: OutgoingHttpHeaders): void;
}

/**
 * ok_headers, ok_trailers: the response headers and OK trailers of almost every call, one object each for the
 * process, so h2/stream.ts finds their encoding by identity (neither server mutates them: read only here).
 */
const ok_headers: OutgoingHttpHeaders = { ":status": 200, "content-type": grpc_content_type };
const ok_trailers: OutgoingHttpHeaders = { "grpc-status": "0", "grpc-message": "OK" };

/** object_high_water_mark: unsent answers before writableNeedDrain (grpc-js's object-mode streams: 16). */
const object_high_water_mark = 16;

/** MethodCodec: a method's (de)serializers, proto-loader's generated ones (the same grpc-js used). */
export interface MethodCodec {
  path: string;
  requestDeserialize(bytes: Buffer): Msg;
  responseSerialize(message: Msg): Buffer;
  /** responseFrame: the answer with its gRPC prefix in one buffer (put_codec.ts), when the codec has it. */
  responseFrame?(message: Msg): Buffer;
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
  private unsent = 0;
  private needDrain = false;
  private deadline: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly stream: CallStream,
    private readonly headers: IncomingHttpHeaders,
    private readonly codec: MethodCodec,
  ) {
    super();
    stream.on("close", () => {
      this.clearDeadline();
      if (this.finished) return;
      this.finished = true;
      this.cancelled = true;
      this.emit("cancelled", "cancelled");
    });
  }

  /**
   * emit: handlers end a call with call.emit("error", status) as in grpc-js; the status is sent first, then any
   * 'error' listeners run (none: no throw). In place of a default listener, which cost a closure per call.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event !== "error") return super.emit(event, ...args);
    this.finish(args[0] as CallStatus);
    if (this.listenerCount("error") > 0) super.emit(event, ...args);
    return true;
  }

  /** metadata: the request headers as grpc-js Metadata (built on first use; most calls never read it). */
  get metadata(): Metadata {
    this.metadataCache ??= Metadata.fromHttp2Headers(this.headers);
    return this.metadataCache;
  }

  getPeer(): string {
    const socket = this.stream.session?.socket;
    return socket === undefined || socket.remoteAddress === undefined ? "unknown" : `${socket.remoteAddress}:${socket.remotePort}`;
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

  /** write sends one answer; false: wait for 'drain' (grpc-js object-mode semantics: counts answers, not bytes). */
  write(message: Msg): boolean {
    if (this.finished || this.stream.destroyed) return false;
    const framed = this.framed(message);
    if (framed === null) return false;
    this.sendHeaders();
    this.unsent++;
    const room = this.stream.write(framed, () => {
      this.unsent--;
      if (this.unsent === 0 && this.needDrain) {
        this.needDrain = false;
        this.emit("drain");
      }
    });
    if (!room || this.unsent >= object_high_water_mark) this.needDrain = true;
    return !this.needDrain;
  }

  get writableLength(): number {
    return this.unsent;
  }

  get writableNeedDrain(): boolean {
    return this.needDrain;
  }

  /**
   * answer: a unary call's one answer and OK status: on h2/stream.ts one queueing of headers, message and
   * trailers (stream.answer), elsewhere write() + end().
   */
  answer(message: Msg): void {
    const stream = this.stream;
    if (this.headersSent || this.extraHeaders !== null || stream.answer === undefined) {
      this.write(message);
      this.end();
      return;
    }
    if (this.finished || stream.destroyed || stream.closed) return;
    const framed = this.framed(message);
    if (framed === null) return;
    this.headersSent = true;
    this.finished = true;
    this.clearDeadline();
    stream.answer(ok_headers, framed, ok_trailers);
  }

  /** framed: the answer with its gRPC prefix; null when it cannot be serialized (the call then ends INTERNAL). */
  private framed(message: Msg): Buffer | null {
    try {
      const codec = this.codec;
      return codec.responseFrame !== undefined ? codec.responseFrame(message) : frame(codec.responseSerialize(message));
    } catch (error) {
      this.finish({ code: grpcStatus.INTERNAL, details: `cannot serialize the answer of ${this.codec.path}: ${(error as Error).message}` });
      return null;
    }
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
    const details = status.details ?? status.message ?? "";
    let trailers: OutgoingHttpHeaders;
    if (status.code === grpcStatus.OK && status.metadata === undefined && details === "OK") trailers = ok_trailers;
    else {
      trailers = status.metadata === undefined ? {} : status.metadata.toHttp2Headers();
      trailers["grpc-status"] = String(status.code);
      if (details !== "") trailers["grpc-message"] = grpcMessage(details);
    }
    try {
      if (this.headersSent) {
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
    // The trailers follow the answers (respond's waitForTrailers); a call answered at once (answer()) needs no listener.
    const stream = this.stream;
    stream.on("wantTrailers", () => {
      if (!stream.destroyed) stream.sendTrailers(this.trailers ?? { "grpc-status": "0" });
    });
    this.stream.respond(this.extraHeaders === null ? ok_headers : { ...this.extraHeaders, ...ok_headers }, { waitForTrailers: true });
  }

  private clearDeadline(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
  }
}
