// InboundConn: one accepted connection. It must open with a valid hello (right protocol, addressed to us,
// from a known node of our cluster) within the handshake timeout; then it is either a Raft link (it only
// receives messages) or a snapshot link (one transfer, acknowledged chunk by chunk). Bad bytes of any kind
// close this connection only, logged once per remote address and reason.
import type { Socket } from "bun";
import type { Message, NodeId } from "../raft/types.ts";
import { limits } from "../shared/limits.ts";
import { stamp, TracePoint, tracing } from "../shared/trace.ts";
import { decodeAck } from "./ack_codec.ts";
import { decodeAppendFrame, decodeAppendPieces } from "./append_decode.ts";
import { FrameDecoder, FrameError, decodeFrameBody, encodeFrame } from "./frame.ts";
import type { TransportLogging } from "./log.ts";
import { OutQueue } from "./out_queue.ts";
import { SnapshotReceiver } from "./snapshot_recv.ts";
import type { TransportTuning } from "./tuning.ts";
import type { TransportHandlers } from "./types.ts";
import { hello_bytes_max, protocol_version, parseFrame, type Frame, type LinkKind } from "./wire.ts";

/** snapshot_idle_ms: a snapshot link silent this long (and not applying) is closed, releasing its image. */
const snapshot_idle_ms = 60_000;

export interface InboundContext {
  nodeId: NodeId;
  tuning: TransportTuning;
  logging: TransportLogging;
  clusterId(): string | null;
  isKnownPeer(id: NodeId): boolean;
  incarnationProblem(id: NodeId, incarnation: string): string | null;
  handlers: TransportHandlers;
  /** isClosed: the transport is closing (or a handler failed); nothing is delivered any more. */
  isClosed(): boolean;
  /** handlerFailed: a handler threw; the transport stops delivering and reports it (TransportHandlers.onFatal). */
  handlerFailed(what: string, error: unknown): void;
  /** snapshotLinks: the connection currently receiving a snapshot from each peer. */
  snapshotLinks: Map<NodeId, InboundConn>;
  /** counters for stats(). */
  counters: { refused: number; protocolErrors: number; delivered: number };
}

function decodeInbound(body: Uint8Array): Frame {
  return decodeAppendFrame(body) ?? decodeAck(body) ?? parseFrame(decodeFrameBody(body));
}

/** decodeInboundPieces: a frame that spanned socket reads; an append is read from its pieces (append_decode.ts). */
function decodeInboundPieces(pieces: Uint8Array[], length: number): Frame {
  const append = decodeAppendPieces(pieces, length);
  if (append !== null) return append;
  const body = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    body.set(piece, at);
    at += piece.length;
  }
  return decodeInbound(body);
}

export class InboundConn {
  /** Frames come out parsed: appends and acks in their hand-written layouts by the fast paths, the rest through msgpackr. */
  private readonly decoder = new FrameDecoder(hello_bytes_max, decodeInbound, decodeInboundPieces);
  private peer: NodeId | null = null;
  private kind: LinkKind | null = null;
  /** incarnation: the peer's data-directory incarnation from its hello ("" when it sent none). */
  private incarnation = "";
  private snapshot: SnapshotReceiver | null = null;
  private out: OutQueue | null = null;
  private dead = false;
  /** timer closes a connection that stays silent: no hello in time, or a stalled snapshot transfer. */
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly socket: Socket<unknown>,
    private readonly ctx: InboundContext,
  ) {
    // A JS timer, not socket.timeout(): the latter has a coarse (seconds) granularity.
    this.arm(ctx.tuning.handshakeTimeoutMs);
  }

  private get remote(): string {
    return this.socket.remoteAddress ?? "?";
  }

  onData(chunk: Uint8Array): void {
    if (tracing) stamp(TracePoint.dataIn, -1, chunk.length);
    if (this.dead) return;
    try {
      // Frame by frame: the handshake raises the decoder's limit before the next header in this chunk is read.
      this.decoder.push(chunk, (value) => {
        if (!this.dead && !this.ctx.isClosed()) this.handle(value as Frame);
      });
    } catch (error) {
      // Never let an exception escape a socket handler: whatever went wrong, only this connection pays.
      if (!(error instanceof FrameError)) {
        this.ctx.logging.logger.error(`bug handling a frame from ${this.remote}; closing the connection:`, error);
      } else if (!this.dead) {
        // (when dead: refused or closed already, what follows in the chunk is not worth a log line)
        this.ctx.counters.protocolErrors++;
        this.ctx.logging.warnOnce(`bad:${this.remote}`, `closing connection from ${this.remote}${this.peer ? ` (node ${this.peer})` : ""}: ${error.message}`);
      }
      if (!this.dead) this.kill();
    }
  }

  onDrain(): void {
    this.out?.onDrain();
  }

  private arm(ms: number | null): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = ms === null ? null : setTimeout(() => this.onTimeout(), ms);
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.dead) return;
    if (this.snapshot?.applying) {
      this.arm(snapshot_idle_ms);
      return;
    }
    this.ctx.logging.warnOnce(`idle:${this.remote}`, `closing connection from ${this.remote}: ${this.peer === null ? "no handshake" : "snapshot transfer stalled"}`);
    this.kill();
  }

  onClose(): void {
    this.dead = true;
    this.forgetSnapshotLink();
    this.arm(null);
    this.snapshot?.abort();
    this.out?.detach();
  }

  /** close: the transport is shutting down. */
  close(): void {
    if (!this.dead) this.kill();
  }

  private forgetSnapshotLink(): void {
    if (this.kind === "snap" && this.peer !== null && this.ctx.snapshotLinks.get(this.peer) === this) this.ctx.snapshotLinks.delete(this.peer);
  }

  private kill(): void {
    this.dead = true;
    this.forgetSnapshotLink();
    this.arm(null);
    this.snapshot?.abort();
    this.socket.terminate();
  }

  private handle(frame: Frame): void {
    if (this.peer === null) return this.handshake(frame);
    if (this.kind === "raft") {
      if (frame.t !== "m") throw new FrameError(`unexpected ${frame.t} frame on a raft link`);
      return this.deliver(frame.m);
    }
    this.arm(snapshot_idle_ms);
    this.snapshot!.handle(frame);
  }

  private handshake(frame: Frame): void {
    if (frame.t !== "hello") throw new FrameError(`expected hello, got ${frame.t}`);
    if (frame.v !== protocol_version) return this.refuse(`protocol version ${frame.v}, expected ${protocol_version}`, frame.from);
    if (frame.to !== this.ctx.nodeId) return this.refuse(`addressed to node ${frame.to}, this is node ${this.ctx.nodeId}`, frame.from);
    if (frame.from === this.ctx.nodeId) return this.refuse(`node ${frame.from} is this node's own id`, frame.from);
    const local = this.ctx.clusterId();
    if (local !== null && frame.cluster !== null && local !== frame.cluster) {
      return this.refuse(`cluster ${frame.cluster}, this node belongs to cluster ${local}`, frame.from);
    }
    if (!this.ctx.isKnownPeer(frame.from)) return this.refuse(`node ${frame.from} is not a known member`, frame.from);
    const wrongIncarnation = this.ctx.incarnationProblem(frame.from, frame.inc ?? "");
    if (wrongIncarnation !== null) return this.refuse(wrongIncarnation, frame.from);
    this.peer = frame.from;
    this.incarnation = frame.inc ?? "";
    this.kind = frame.kind;
    this.decoder.bytesMax = limits.frame_bytes_max;
    if (frame.kind === "raft") {
      this.arm(null); // idle raft links are normal: a follower may have nothing to say to another.
      return;
    }
    this.arm(snapshot_idle_ms);
    // One incoming transfer per peer: a retry supersedes a transfer the sender has given up on.
    this.ctx.snapshotLinks.get(frame.from)?.close();
    this.ctx.snapshotLinks.set(frame.from, this);
    const out = new OutQueue({ messagesMax: 1024 * 1024, bytesMax: 64 * 1024 * 1024, ageMaxMs: Infinity });
    out.attach(this.socket);
    this.out = out;
    this.snapshot = new SnapshotReceiver(frame.from, {
      nodeId: this.ctx.nodeId,
      tuning: this.ctx.tuning,
      logging: this.ctx.logging,
      onSnapshot: (m, data) => (this.ctx.isClosed() ? Promise.reject(new Error("transport closed")) : this.ctx.handlers.onSnapshot(m, data)),
      reply: (f) => {
        if (!this.dead) out.push(encodeFrame(f, hello_bytes_max));
      },
    });
  }

  private deliver(message: Message): void {
    if (message.from !== this.peer) throw new FrameError(`message from node ${message.from} on the link of node ${this.peer}`);
    if (message.to !== this.ctx.nodeId) {
      this.ctx.logging.logger.debug(`dropping a ${message.type} for node ${message.to} (this is node ${this.ctx.nodeId})`);
      return;
    }
    if (!this.ctx.isKnownPeer(message.from)) return this.refuse(`node ${message.from} is no longer a known member`, message.from);
    // Checked per message too: the configuration may record another incarnation since the handshake.
    const wrongIncarnation = this.ctx.incarnationProblem(message.from, this.incarnation);
    if (wrongIncarnation !== null) return this.refuse(wrongIncarnation, message.from);
    this.ctx.counters.delivered++;
    try {
      this.ctx.handlers.onMessage(message);
    } catch (error) {
      // Not the peer's fault (its frame was well-formed): the node's own handler broke, possibly half-way
      // through a step. Carrying on would run a core with a broken invariant; the node must stop.
      this.ctx.handlerFailed(`onMessage threw on a ${message.type} from node ${message.from}`, error);
      this.kill();
    }
  }

  /** refuse tells the peer why (it logs that once) and closes; the remaining frames are ignored. */
  private refuse(why: string, from: NodeId): void {
    const reason = why.length > 200 ? `${why.slice(0, 200)}…` : why;
    this.ctx.counters.refused++;
    this.ctx.logging.warnOnce(`refuse:${from}:${reason}`, `refusing connection from ${this.remote} (node ${from}): ${reason}`);
    this.dead = true;
    this.arm(null);
    this.socket.write(encodeFrame({ t: "refuse", reason }, hello_bytes_max));
    this.socket.end();
  }
}
