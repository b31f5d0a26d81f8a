// TcpTransport: the Transport over Bun TCP. One listener accepts every peer's outbound links (and their
// snapshot links); one PeerLink per known peer carries our messages to it.
import type { Socket, TCPSocketListener } from "bun";
import type { Message, NodeId } from "../raft/types.ts";
import { assert } from "../shared/assert.ts";
import { limits } from "../shared/limits.ts";
import { stamp, TracePoint, tracing } from "../shared/trace.ts";
import { formatHostPort, parseHostPort } from "./addr.ts";
import { encodeAck } from "./ack_codec.ts";
import { AppendEncoder } from "./append_codec.ts";
import { FrameError, encodeFrame } from "./frame.ts";
import { InboundConn, type InboundContext } from "./inbound.ts";
import { TransportLogging } from "./log.ts";
import { PeerLink, type LinkContext } from "./peer_link.ts";
import { SnapshotSender } from "./snapshot_send.ts";
import { handshakeFailure, listenerTls, remoteOf, type PeerTls } from "./tls.ts";
import { resolveTuning, type TransportTuning } from "./tuning.ts";
import type { Transport, TransportOptions } from "./types.ts";
import type { SnapshotMessage } from "./wire.ts";

export interface CreateTransportOptions extends TransportOptions {
  /** tuning overrides timing and window defaults (tests shrink them). */
  tuning?: Partial<TransportTuning>;
}

export interface PeerStats {
  id: NodeId;
  addr: string;
  connected: boolean;
  /** connects counts connections that opened since the peer was added. */
  connects: number;
  queuedMessages: number;
  queuedBytes: number;
  /** sentMessages counts frames handed to the kernel in full. */
  sentMessages: number;
  /** sentBatches counts socket writes of coalesced frames (sentMessages / sentBatches frames per write). */
  sentBatches: number;
  /** droppedMessages counts frames never sent: the queue was full, they expired, or the peer was removed. */
  droppedMessages: number;
  /** expiredMessages counts frames dropped for waiting longer than queueAgeMaxMs for a connection. */
  expiredMessages: number;
}

export interface TransportStats {
  peers: PeerStats[];
  /** droppedUnknownPeer counts send() calls for a peer with no address (never setPeer, or removed). */
  droppedUnknownPeer: number;
  /** delivered counts inbound messages handed to onMessage. */
  delivered: number;
  refused: number;
  protocolErrors: number;
  inboundConnections: number;
  /** snapshots: transfers in flight, with their progress. */
  snapshots: { to: NodeId; bytes: number; chunks: number; ackedChunks: number }[];
}

/** QklzlTransport is the Transport plus introspection for metrics and tests. */
export interface QklzlTransport extends Transport {
  stats(): TransportStats;
  /**
   * reloadTls swaps the certificate, key and CA: links dialled from now on use them, and the listener is
   * re-bound on the same port with them (open connections keep the session they have). Throws when TLS was
   * off at start (switching plaintext to TLS takes a restart) or the new material is refused by Bun.
   */
  reloadTls(tls: PeerTls): void;
}

export class TcpTransport implements QklzlTransport {
  readonly addr: string;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly snapshots = new Map<NodeId, SnapshotSender>();
  private readonly inbound = new Set<InboundConn>();
  private readonly linkCtx: LinkContext;
  private readonly inboundCtx: InboundContext;
  private readonly logging: TransportLogging;
  private listener: TCPSocketListener<InboundConn | undefined>;
  private tls: PeerTls | null;
  private closed = false;
  /** handlerError: a handler threw (see TransportHandlers.onFatal); nothing is delivered after it. */
  private handlerError: Error | null = null;
  private droppedUnknownPeer = 0;
  /** appends: the leader's hot frame, encoded by hand with the entries shared across followers. */
  private readonly appends = new AppendEncoder();

  constructor(private readonly options: CreateTransportOptions) {
    const tuning = resolveTuning(options.tuning);
    this.tls = options.tls ?? null;
    this.logging = new TransportLogging(options.nodeId);
    const counters = { refused: 0, protocolErrors: 0, delivered: 0 };
    this.linkCtx = {
      nodeId: options.nodeId,
      tuning,
      logging: this.logging,
      clusterId: () => options.clusterId(),
      incarnation: options.incarnation ?? "",
      tls: () => this.tls,
      onUnreachable: (id) => {
        if (this.closed || this.handlerError !== null) return;
        try {
          options.handlers.onUnreachable(id);
        } catch (error) {
          this.handlerFailed(`onUnreachable(${id}) threw`, error);
        }
      },
    };
    this.inboundCtx = {
      nodeId: options.nodeId,
      tuning,
      logging: this.logging,
      clusterId: () => options.clusterId(),
      isKnownPeer: (id) => options.isKnownPeer(id),
      incarnationProblem: (id, incarnation) => options.incarnationProblem?.(id, incarnation) ?? null,
      handlers: options.handlers,
      isClosed: () => this.closed || this.handlerError !== null,
      handlerFailed: (what, error) => this.handlerFailed(what, error),
      snapshotLinks: new Map(),
      counters,
    };
    const { hostname, port } = parseHostPort(options.listen);
    this.listener = this.listen(hostname, port);
    this.addr = formatHostPort(this.listener.hostname, this.listener.port);
    this.logging.logger.debug(`listening on ${this.addr}${this.tls === null ? "" : " (mutual TLS)"}`);
  }

  /** listen binds the peer port, with TLS when this.tls is set. */
  private listen(hostname: string, port: number): TCPSocketListener<InboundConn | undefined> {
    const tls = this.tls === null ? undefined : listenerTls(this.tls);
    const accept = (socket: Socket<InboundConn | undefined>) => {
      const conn = new InboundConn(socket as Socket<unknown>, this.inboundCtx);
      socket.data = conn;
      this.inbound.add(conn);
    };
    try {
      return Bun.listen<InboundConn | undefined>({
        hostname,
        port,
        data: undefined,
        tls,
        socket: {
          // With TLS, frames arrive only after the handshake (and a refused peer never gets that far).
          open: (socket) => accept(socket),
          handshake: (socket, success, authorizationError) => {
            const failure = handshakeFailure(success, authorizationError);
            if (failure === null) return;
            this.inboundCtx.counters.refused++;
            this.logging.warnOnce(`tls:${remoteOf(socket as Socket<unknown>)}:${failure}`, `refused a peer connection from ${remoteOf(socket as Socket<unknown>)} at the TLS handshake: ${failure}`);
            socket.terminate();
          },
          data: (socket, chunk) => socket.data?.onData(chunk),
          drain: (socket) => socket.data?.onDrain(),
          close: (socket) => {
            const conn = socket.data;
            if (conn === undefined) return;
            conn.onClose();
            this.inbound.delete(conn);
          },
          error: (_socket, error) => this.logging.logger.debug(`inbound connection: ${error.message}`),
        },
      });
    } catch (error) {
      throw new Error(`cannot listen on ${formatHostPort(hostname, port)}: ${(error as Error & { code?: string }).code ?? (error as Error).message}`, { cause: error });
    }
  }

  reloadTls(tls: PeerTls): void {
    if (this.closed) return;
    if (this.tls === null) throw new Error("peer TLS was off at start; turning it on takes a restart");
    listenerTls(tls); // checks the material before the old listener goes
    const { hostname, port } = { hostname: this.listener.hostname, port: this.listener.port };
    const previous = this.tls;
    this.tls = tls;
    // stop(false): established links stay up on their session; only the listening socket is replaced.
    this.listener.stop(false);
    try {
      this.listener = this.listen(hostname, port);
    } catch (error) {
      this.tls = previous;
      this.listener = this.listen(hostname, port);
      throw error;
    }
    this.logging.logger.info(`peer TLS reloaded: new links use the new certificate`);
  }

  /** handlerFailed stops all delivery and hands the error to onFatal once (the node's fatal path). */
  private handlerFailed(what: string, error: unknown): void {
    if (this.handlerError !== null) return;
    const reason = error instanceof Error ? error.message : String(error);
    // No log line here: the node logs the error (with the handler's stack, the cause) on its fatal path.
    this.handlerError = new Error(`${what}: ${reason}`, { cause: error });
    try {
      this.options.handlers.onFatal(this.handlerError);
    } catch (fatalError) {
      this.logging.logger.error("onFatal threw:", fatalError);
    }
  }

  setPeer(id: NodeId, addr: string): void {
    if (this.closed) return;
    assert(id !== this.options.nodeId, "setPeer for this node itself");
    try {
      parseHostPort(addr);
    } catch (error) {
      // Not a throw: the address may come from a replicated config entry. The link reports the peer unreachable.
      this.logging.logger.warn(`peer ${id}: ${(error as Error).message}`);
    }
    const link = this.links.get(id);
    if (link === undefined) this.links.set(id, new PeerLink(id, addr, this.linkCtx));
    else link.setAddr(addr);
  }

  removePeer(id: NodeId): void {
    this.links.get(id)?.close();
    this.links.delete(id);
    this.snapshots.get(id)?.cancel("peer removed");
  }

  send(message: Message): void {
    if (this.closed) return;
    const link = this.links.get(message.to);
    if (link === undefined) {
      this.droppedUnknownPeer++;
      this.logging.logger.debug(`dropping a ${message.type} for unknown peer ${message.to}`);
      return;
    }
    let frame: Uint8Array;
    let body: readonly Uint8Array[] | null = null;
    try {
      if (message.type === "append") {
        // In parts: the followers' frames share the entries section (AppendEncoder.encodeParts).
        const parts = this.appends.encodeParts(message, limits.frame_bytes_max);
        frame = parts.head;
        body = parts.section.parts;
      } else {
        frame = encodeAck(message, limits.frame_bytes_max) ?? encodeFrame({ t: "m", m: message }, limits.frame_bytes_max);
      }
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      this.logging.warnOnce(`big:${message.to}`, `dropping a ${message.type} to peer ${message.to}: ${error.message}`);
      return;
    }
    link.send(frame, body);
    if (tracing) stamp(TracePoint.sent, message.type === "append" ? (message.entries.at(-1)?.index ?? -2) : message.type === "append_resp" ? message.index : -3, message.to);
  }

  sendSnapshot(message: SnapshotMessage, data: Uint8Array): Promise<boolean> {
    const to = message.to;
    const link = this.links.get(to);
    if (this.closed || link === undefined) return Promise.resolve(false);
    if (this.snapshots.has(to)) {
      this.logging.logger.warn(`a snapshot transfer to node ${to} is already running: not starting another`);
      return Promise.resolve(false);
    }
    const sender = new SnapshotSender(to, link.address, message, data, this.linkCtx);
    this.snapshots.set(to, sender);
    return sender.done.finally(() => {
      if (this.snapshots.get(to) === sender) this.snapshots.delete(to);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listener.stop(true);
    for (const link of this.links.values()) link.close();
    this.links.clear();
    const pending = [...this.snapshots.values()];
    for (const sender of pending) sender.cancel("transport closed");
    await Promise.all(pending.map((s) => s.done));
    this.snapshots.clear();
    for (const conn of this.inbound) conn.close();
    this.inbound.clear();
    this.logging.logger.debug("closed");
  }

  stats(): TransportStats {
    const c = this.inboundCtx.counters;
    return {
      peers: [...this.links.values()].map((l) => ({
        id: l.id,
        addr: l.address,
        connected: l.connected,
        connects: l.connects,
        queuedMessages: l.queue.length,
        queuedBytes: l.queue.queuedBytes,
        sentMessages: l.queue.written,
        sentBatches: l.queue.batches,
        droppedMessages: l.queue.dropped,
        expiredMessages: l.queue.expired,
      })),
      droppedUnknownPeer: this.droppedUnknownPeer,
      delivered: c.delivered,
      refused: c.refused,
      protocolErrors: c.protocolErrors,
      inboundConnections: this.inbound.size,
      snapshots: [...this.snapshots.values()].map((s) => s.progress()),
    };
  }
}
