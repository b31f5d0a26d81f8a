import type { Message, NodeId } from "../raft/types.ts";
import type { PeerTls } from "./tls.ts";

/**
 * Transport moves Raft messages between peers over Bun TCP (length-prefixed msgpackr frames). send() never
 * blocks and never retries: bounded per-peer queues drop when full, and Raft retransmits.
 */
export interface Transport {
  /** addr is the bound listen address "host:port" (the real port when started with port 0). */
  readonly addr: string;
  /** setPeer records (or updates) where a peer listens; removePeer forgets it and closes its link. */
  setPeer(id: NodeId, addr: string): void;
  removePeer(id: NodeId): void;
  send(message: Message): void;
  /**
   * sendSnapshot streams a snapshot message and its data to message.to in bounded chunks with flow control.
   * Resolves true once the receiver has the whole image and handed it to its onSnapshot handler, false on
   * any failure (disconnect, timeout); the caller reports that to the core, which retries later.
   */
  sendSnapshot(message: Message & { type: "snapshot" }, data: Uint8Array): Promise<boolean>;
  close(): Promise<void>;
}

export interface TransportHandlers {
  onMessage(message: Message): void;
  /** onSnapshot receives a complete, CRC-checked snapshot image; the transfer is acknowledged after it resolves. */
  onSnapshot(message: Message & { type: "snapshot" }, data: Uint8Array): Promise<void>;
  /** onUnreachable: a send to `id` failed (connection refused or lost). */
  onUnreachable(id: NodeId): void;
  /**
   * onFatal: onMessage or onUnreachable threw. That is no fault of the peer (a malformed frame only closes its
   * connection): the node's own state may be half-updated (a broken invariant), so the transport delivers
   * nothing more and hands the error here; the node must stop. Called at most once.
   */
  onFatal(error: Error): void;
}

export interface TransportOptions {
  nodeId: NodeId;
  /** listen is "host:port" to bind (port 0 for an ephemeral port). */
  listen: string;
  /** clusterId returns the local cluster id (null while a fresh node has not joined yet: accept any). */
  clusterId(): string | null;
  /** isKnownPeer decides whether inbound frames from `id` are accepted (the handshake refuses others). */
  isKnownPeer(id: NodeId): boolean;
  /** incarnation: this node's data-directory incarnation, sent in every hello ("" when the caller has none). */
  incarnation?: string;
  /**
   * incarnationProblem (optional) says why a hello from `id` with `incarnation` must be refused (the
   * configuration records another incarnation for that member: a wiped node must not vote or ack as it), or null.
   */
  incarnationProblem?(id: NodeId, incarnation: string): string | null;
  handlers: TransportHandlers;
  /**
   * tls: mutual TLS on every link (listener and dials) with these PEM texts; null or absent: plaintext.
   * A peer whose certificate is not from tls.ca is refused at the handshake (logged); plaintext to the
   * TLS listener is closed by the handshake at once.
   */
  tls?: PeerTls | null;
}
