// PeerLink: our one outbound connection to a peer. All our Raft messages to that peer go out on it; the
// peer's messages to us arrive on its own outbound link (our inbound side). The link connects lazily when a
// frame is queued, reconnects with jittered exponential backoff while frames are pending, and reports the
// peer unreachable (rate-limited) on every failed or lost connection.
import type { Socket } from "bun";
import type { NodeId } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { parseHostPort } from "./addr.ts";
import { FrameDecoder, FrameError, encodeFrame } from "./frame.ts";
import type { TransportLogging } from "./log.ts";
import { OutQueue } from "./out_queue.ts";
import type { TransportTuning } from "./tuning.ts";
import { dialTls, handshakeFailure, type PeerTls } from "./tls.ts";
import { hello_bytes_max, protocol_version, parseFrame, type LinkKind } from "./wire.ts";

/** link_stable_ms: a connection that lived this long resets the backoff (a refused one keeps growing it). */
const link_stable_ms = 1000;
const keepalive_delay_ms = 10_000;

export interface LinkContext {
  nodeId: NodeId;
  tuning: TransportTuning;
  logging: TransportLogging;
  clusterId(): string | null;
  /** incarnation: this node's data-directory incarnation, sent in every hello. */
  incarnation: string;
  /** tls: the current peer TLS material (read at each dial, so a reload takes effect), null for plaintext. */
  tls(): PeerTls | null;
  onUnreachable(id: NodeId): void;
}

type LinkState = "idle" | "connecting" | "open" | "backoff" | "closed";

/** helloFrame is the first frame of every connection we open. */
export function helloFrame(ctx: LinkContext, to: NodeId, kind: LinkKind): Uint8Array {
  return encodeFrame({ t: "hello", v: protocol_version, cluster: ctx.clusterId(), from: ctx.nodeId, to, kind, inc: ctx.incarnation }, hello_bytes_max);
}

export class PeerLink {
  readonly queue: OutQueue;
  private state: LinkState = "idle";
  /** gen identifies the current connection attempt; callbacks of older sockets are ignored. */
  private gen = 0;
  private socket: Socket<unknown> | null = null;
  private decoder = new FrameDecoder(hello_bytes_max);
  private timer: ReturnType<typeof setTimeout> | null = null;
  private backoffMs: number;
  private openedAt = 0;
  private lastUnreachable = -Infinity;
  /** connects counts connections that opened (for stats and tests). */
  connects = 0;

  constructor(
    readonly id: NodeId,
    private addr: string,
    private readonly ctx: LinkContext,
  ) {
    this.queue = new OutQueue({
      messagesMax: ctx.tuning.queueMessagesMax,
      bytesMax: ctx.tuning.queueBytesMax,
      ageMaxMs: ctx.tuning.queueAgeMaxMs,
    });
    this.backoffMs = ctx.tuning.backoffMinMs;
  }

  get connected(): boolean {
    return this.state === "open";
  }

  get address(): string {
    return this.addr;
  }

  /**
   * send queues one encoded frame (`frame`, then the `body` parts when it comes in parts: OutQueue.push);
   * false when it was dropped (queue full or link closed). Never blocks.
   */
  send(frame: Uint8Array, body: readonly Uint8Array[] | null = null): boolean {
    if (this.state === "closed") return false;
    const ok = this.queue.push(frame, body);
    if (!ok) this.ctx.logging.warnOnce(`full:${this.id}`, `queue to peer ${this.id} is full (${this.queue.length} messages): dropping`);
    if (this.state === "idle") this.connect();
    return ok;
  }

  /** setAddr points the link at a new address: the current connection (if any) is dropped and redialled. */
  setAddr(addr: string): void {
    if (addr === this.addr || this.state === "closed") return;
    this.addr = addr;
    this.dropConnection();
    this.backoffMs = this.ctx.tuning.backoffMinMs;
    this.state = "idle";
    if (this.queue.length > 0) this.connect();
  }

  /** close ends the link for good: queued frames are dropped, no reconnect, no more callbacks. */
  close(): void {
    if (this.state === "closed") return;
    this.dropConnection();
    this.state = "closed";
    this.queue.clear();
  }

  private dropConnection(): void {
    this.gen++;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.detach();
    this.socket?.end();
    this.socket = null;
  }

  private connect(): void {
    assert(this.state === "idle", `connect from state ${this.state}`);
    this.state = "connecting";
    const gen = ++this.gen;
    let target: { hostname: string; port: number };
    try {
      target = parseHostPort(this.addr);
    } catch (error) {
      this.failed(gen, (error as Error).message);
      return;
    }
    this.timer = setTimeout(() => this.failed(gen, "connect timeout"), this.ctx.tuning.connectTimeoutMs);
    // Bun.connect reports failures by rejecting; the try also covers a synchronous throw.
    try {
      this.dial(gen, target);
    } catch (error) {
      this.failed(gen, (error as Error).message);
    }
  }

  private dial(gen: number, target: { hostname: string; port: number }): void {
    const tls = this.ctx.tls();
    Bun.connect({
      hostname: target.hostname,
      port: target.port,
      tls: tls === null ? undefined : dialTls(tls),
      socket: {
        // With TLS a write before the handshake is lost: the link opens (hello first) once it is done.
        open: (socket) => {
          if (tls === null) this.onOpen(gen, socket);
        },
        handshake: (socket, success, authorizationError) => {
          const failure = handshakeFailure(success, authorizationError);
          if (failure === null) return this.onOpen(gen, socket);
          this.ctx.logging.warnOnce(`tls:${this.id}:${failure}`, `TLS handshake with peer ${this.id} at ${this.addr} failed: ${failure}`);
          socket.terminate();
        },
        data: (socket, chunk) => this.onData(gen, socket, chunk),
        drain: () => {
          if (gen === this.gen) this.queue.onDrain();
        },
        close: (_socket, error) => this.onClose(gen, error),
        error: (_socket, error) => this.ctx.logging.logger.debug(`link to peer ${this.id}: ${error.message}`),
      },
    }).catch((error: Error & { code?: string }) => this.failed(gen, error.code ?? error.message));
  }

  private onOpen(gen: number, socket: Socket<unknown>): void {
    if (gen !== this.gen || this.state !== "connecting") {
      socket.end(); // a stale attempt (timed out, readdressed or closed meanwhile).
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.state = "open";
    this.socket = socket;
    this.openedAt = performance.now();
    this.connects++;
    this.decoder = new FrameDecoder(hello_bytes_max);
    socket.setNoDelay(true);
    // Keepalive finds a peer that vanished without a FIN (host crash, partition) on an otherwise idle link.
    socket.setKeepAlive(true, keepalive_delay_ms);
    this.ctx.logging.logger.debug(`connected to peer ${this.id} at ${this.addr}`);
    this.queue.attach(socket, helloFrame(this.ctx, this.id, "raft"));
  }

  /** onData: the acceptor only ever writes a refuse frame to us before closing. */
  private onData(gen: number, socket: Socket<unknown>, chunk: Uint8Array): void {
    if (gen !== this.gen) return;
    try {
      for (const value of this.decoder.push(chunk)) {
        const frame = parseFrame(value);
        if (frame.t !== "refuse") throw new FrameError(`unexpected ${frame.t} frame on an outbound link`);
        this.ctx.logging.warnOnce(`refused:${this.id}:${frame.reason}`, `peer ${this.id} at ${this.addr} refused us: ${frame.reason}`);
      }
    } catch (error) {
      this.ctx.logging.warnOnce(`proto:${this.id}`, `link to peer ${this.id}: ${(error as Error).message}; closing`);
      socket.terminate();
    }
  }

  private onClose(gen: number, error: Error | undefined): void {
    if (gen !== this.gen || this.state === "closed") return;
    assert(this.state === "open" || this.state === "connecting", `close in state ${this.state}`);
    const lived = this.state === "open" ? performance.now() - this.openedAt : 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.detach();
    this.socket = null;
    if (lived >= link_stable_ms) this.backoffMs = this.ctx.tuning.backoffMinMs;
    this.ctx.logging.logger.debug(`link to peer ${this.id} closed${error ? `: ${error.message}` : ""}`);
    this.reportUnreachable();
    this.retryLater();
  }

  private failed(gen: number, reason: string): void {
    if (gen !== this.gen || this.state !== "connecting") return;
    this.gen++; // a connect that still completes later is stale.
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ctx.logging.warnOnce(`connect:${this.id}`, `cannot reach peer ${this.id} at ${this.addr}: ${reason} (retrying)`);
    this.reportUnreachable();
    this.retryLater();
  }

  /** retryLater waits a jittered backoff, then reconnects if frames are still pending. */
  private retryLater(): void {
    this.state = "backoff";
    const delay = this.backoffMs * (0.5 + Math.random());
    this.backoffMs = Math.min(this.ctx.tuning.backoffMaxMs, this.backoffMs * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.state !== "backoff") return;
      this.state = "idle";
      if (this.queue.length > 0) this.connect();
    }, delay);
  }

  private reportUnreachable(): void {
    const now = performance.now();
    if (now - this.lastUnreachable < this.ctx.tuning.unreachableIntervalMs) return;
    this.lastUnreachable = now;
    this.ctx.onUnreachable(this.id);
  }
}
