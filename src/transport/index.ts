// The peer transport: Raft messages and chunked snapshots between nodes over Bun TCP.
// Public surface of src/transport; everything else in this folder is internal.
import { TcpTransport, type CreateTransportOptions, type QklzlTransport } from "./tcp_transport.ts";

export type { Transport, TransportHandlers, TransportOptions } from "./types.ts";
export type { CreateTransportOptions, PeerStats, QklzlTransport, TransportStats } from "./tcp_transport.ts";
export type { TransportTuning } from "./tuning.ts";
export type { PeerTls } from "./tls.ts";
export { defaultTuning } from "./tuning.ts";

/**
 * createTransport binds options.listen (port 0 picks a free port; see `addr`) and returns a running transport.
 * Rejects when the address cannot be bound (e.g. EADDRINUSE). Peers must be registered with setPeer before
 * messages to them are sent; messages for unknown peers are dropped.
 */
export async function createTransport(options: CreateTransportOptions): Promise<QklzlTransport> {
  return new TcpTransport(options);
}
