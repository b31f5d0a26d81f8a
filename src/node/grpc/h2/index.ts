// A plaintext HTTP/2 (h2c, prior knowledge) server of our own on Bun.listen, for the gRPC endpoint: Bun's
// node:http2 is JavaScript over a native frame parser and cost ~80 µs of leader CPU per put more than the
// HTTP API (BENCHMARKS.md "h43"). Streams have node:http2's server-stream surface (stream.ts), so call.ts and
// serve() are shared with the node:http2 TLS endpoint.
import type { Socket, TCPSocketListener } from "bun";
import { H2Connection, type H2Limits, default_h2_limits, type OnStream } from "./connection.ts";

export { H2Connection, default_h2_limits } from "./connection.ts";
export type { H2Limits, OnStream, Sink } from "./connection.ts";
export { H2Stream } from "./stream.ts";

export interface H2Server {
  readonly port: number;
  /** connections: the open connections (stop() sends each a GOAWAY, then destroys what is left). */
  readonly connections: ReadonlySet<H2Connection>;
  /** stopListening: no new connections. */
  stopListening(): void;
  /** onEmpty: called each time the last open connection closes. */
  onEmpty: (() => void) | null;
}

/** listenH2 serves h2c on host:port; each request stream goes to `onStream`. Throws like Bun.listen (EADDRINUSE). */
export function listenH2(options: { host: string; port: number; onStream: OnStream; limits?: H2Limits; onInternalError?: (error: unknown) => void }): H2Server {
  const connections = new Set<H2Connection>();
  const limits = options.limits ?? default_h2_limits;
  const server: H2Server & { listener: TCPSocketListener<H2Connection | undefined> | null } = {
    port: 0,
    connections,
    listener: null,
    onEmpty: null,
    stopListening() {
      server.listener?.stop(false);
    },
  };
  const listener = Bun.listen<H2Connection | undefined>({
    hostname: options.host,
    port: options.port,
    socket: {
      open(socket: Socket<H2Connection | undefined>) {
        socket.setNoDelay(true);
        const connection = new H2Connection(
          {
            write: (bytes) => socket.write(bytes),
            close: () => socket.end(),
            remoteAddress: socket.remoteAddress,
            remotePort: socket.remotePort,
          },
          options.onStream,
          limits,
          options.onInternalError,
        );
        connection.onClosed = () => {
          if (connections.delete(connection) && connections.size === 0) server.onEmpty?.();
        };
        connections.add(connection);
        socket.data = connection;
      },
      data(socket, chunk) {
        socket.data?.receive(chunk);
      },
      drain(socket) {
        socket.data?.drain();
      },
      close(socket) {
        socket.data?.socketClosed();
      },
      error(socket) {
        socket.data?.socketClosed();
      },
    },
  });
  server.listener = listener;
  (server as { port: number }).port = listener.port;
  return server;
}
