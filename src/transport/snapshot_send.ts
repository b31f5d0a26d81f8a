// SnapshotSender: one snapshot transfer on its own connection. A separate connection keeps heartbeats and
// appends flowing on the peer link: they never queue behind megabytes of image in the same TCP stream.
// Flow control is a window of un-acked chunks; the transfer succeeds when the receiver reports that its
// onSnapshot resolved, and fails on any close, refusal or stall (no ack within the progress timeout).
import type { Socket } from "bun";
import type { NodeId } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { limits } from "../shared/limits.ts";
import { parseHostPort } from "./addr.ts";
import { FrameDecoder, FrameError, encodeFrame } from "./frame.ts";
import { OutQueue } from "./out_queue.ts";
import { helloFrame, type LinkContext } from "./peer_link.ts";
import { dialTls, handshakeFailure } from "./tls.ts";
import { hello_bytes_max, parseFrame, type SnapshotMessage } from "./wire.ts";

export class SnapshotSender {
  readonly done: Promise<boolean>;
  private resolve!: (ok: boolean) => void;
  private finished = false;
  private socket: Socket<unknown> | null = null;
  private readonly out: OutQueue;
  private readonly decoder = new FrameDecoder(hello_bytes_max);
  private readonly chunkCount: number;
  /** Invariant: acked <= sent <= chunkCount, and sent - acked <= window. */
  private sent = 0;
  private acked = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly crc: number;

  constructor(
    readonly to: NodeId,
    private readonly addr: string,
    private readonly message: SnapshotMessage,
    private readonly data: Uint8Array,
    private readonly ctx: LinkContext,
  ) {
    assert(message.to === to, "snapshot message addressed to another node");
    const t = ctx.tuning;
    this.chunkCount = Math.ceil(data.length / t.snapshotChunkBytes);
    this.crc = Bun.hash.crc32(data);
    // The window bounds this queue: begin frame + window chunks in flight.
    this.out = new OutQueue({ messagesMax: t.snapshotWindowChunks + 2, bytesMax: (t.snapshotWindowChunks + 1) * (t.snapshotChunkBytes + 1024), ageMaxMs: Infinity });
    this.done = new Promise<boolean>((resolve) => (this.resolve = resolve));
    this.start();
  }

  /** progress: chunks acknowledged by the receiver so far, out of chunkCount. */
  progress(): { to: NodeId; bytes: number; chunks: number; ackedChunks: number } {
    return { to: this.to, bytes: this.data.length, chunks: this.chunkCount, ackedChunks: this.acked };
  }

  /** cancel fails the transfer now (peer removed, transport closing). */
  cancel(reason: string): void {
    this.finish(false, reason);
  }

  private start(): void {
    let target: { hostname: string; port: number };
    try {
      target = parseHostPort(this.addr);
    } catch (error) {
      queueMicrotask(() => this.finish(false, (error as Error).message));
      return;
    }
    this.arm(this.ctx.tuning.snapshotProgressTimeoutMs, "no progress");
    const tls = this.ctx.tls();
    Bun.connect({
      hostname: target.hostname,
      port: target.port,
      tls: tls === null ? undefined : dialTls(tls),
      socket: {
        // With TLS a write before the handshake is lost: the transfer starts once it is done.
        open: (socket) => {
          if (tls === null) this.onOpen(socket);
        },
        handshake: (socket, success, authorizationError) => {
          const failure = handshakeFailure(success, authorizationError);
          if (failure === null) return this.onOpen(socket);
          this.ctx.logging.warnOnce(`tls:${this.to}:${failure}`, `TLS handshake for a snapshot to ${this.to} at ${this.addr} failed: ${failure}`);
          socket.terminate();
        },
        data: (socket, chunk) => this.onData(socket, chunk),
        drain: () => this.out.onDrain(),
        close: () => this.finish(false, "connection closed"),
        error: (_socket, error) => this.ctx.logging.logger.debug(`snapshot link to ${this.to}: ${error.message}`),
      },
    }).catch((error: Error & { code?: string }) => this.finish(false, error.code ?? error.message));
  }

  private onOpen(socket: Socket<unknown>): void {
    if (this.finished) {
      socket.end();
      return;
    }
    this.socket = socket;
    socket.setNoDelay(true);
    this.out.attach(socket, helloFrame(this.ctx, this.to, "snap"));
    const begin = { t: "sb", m: this.message, size: this.data.length, crc: this.crc, chunk: this.ctx.tuning.snapshotChunkBytes };
    this.out.push(encodeFrame(begin, limits.frame_bytes_max));
    this.pump();
  }

  /** pump sends chunks while the window has room. */
  private pump(): void {
    const chunkBytes = this.ctx.tuning.snapshotChunkBytes;
    while (this.sent < this.chunkCount && this.sent - this.acked < this.ctx.tuning.snapshotWindowChunks) {
      const from = this.sent * chunkBytes;
      const data = this.data.subarray(from, Math.min(from + chunkBytes, this.data.length));
      const ok = this.out.push(encodeFrame({ t: "sc", seq: this.sent, data }, limits.frame_bytes_max));
      assert(ok, "snapshot window exceeds its queue");
      this.sent++;
    }
  }

  private onData(socket: Socket<unknown>, chunk: Uint8Array): void {
    if (this.finished) return;
    try {
      for (const value of this.decoder.push(chunk)) {
        const frame = parseFrame(value);
        if (frame.t === "sa") {
          if (frame.seq !== this.acked || this.acked >= this.sent) throw new FrameError(`ack ${frame.seq}, expected ${this.acked}`);
          this.acked++;
          const all = this.acked === this.chunkCount;
          this.arm(all ? this.ctx.tuning.snapshotApplyTimeoutMs : this.ctx.tuning.snapshotProgressTimeoutMs, all ? "receiver did not confirm" : "no progress");
          this.pump();
        } else if (frame.t === "sd") {
          this.finish(frame.ok, frame.ok ? "" : `receiver: ${frame.reason}`);
        } else if (frame.t === "refuse") {
          this.finish(false, `refused: ${frame.reason}`);
        } else {
          throw new FrameError(`unexpected ${frame.t} frame on a snapshot link`);
        }
        if (this.finished) return;
      }
    } catch (error) {
      socket.terminate();
      this.finish(false, (error as Error).message);
    }
  }

  private arm(ms: number, reason: string): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish(false, `${reason} for ${ms} ms`), ms);
  }

  private finish(ok: boolean, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.out.detach();
    this.out.clear();
    this.socket?.end();
    this.socket = null;
    const what = `snapshot ${this.message.snapshot.index}/${this.message.snapshot.term} (${this.data.length} bytes) to node ${this.to}`;
    if (ok) this.ctx.logging.logger.info(`sent ${what}`);
    else this.ctx.logging.logger.warn(`failed to send ${what}: ${reason} (acked ${this.acked}/${this.chunkCount} chunks)`);
    this.resolve(ok);
  }
}
