import type { Socket, TCPSocketListener } from "bun";
import { unpack } from "msgpackr";

// link_proxy.ts: a fault-injecting TCP proxy in front of each node's Raft port, for the partition tests. Node N
// listens on its --raft-addr but advertises the proxy's address (--advertise-raft-addr), so every peer dials
// N through the proxy. The proxy reads the dialer's first frame (the transport's hello: u32 big-endian length,
// then msgpack {t:"hello", from, to, ...}) to learn which node dialed, and then forwards bytes both ways.
//
// A link is one direction between two nodes: cut(a, b) drops every byte a sends to b, on every connection
// (a's raft and snapshot links to b, and a's answers on links b dialed), while b's bytes to a still arrive.
// Dropping is silent, like a firewall that drops packets: nobody sees a FIN or RST, senders keep writing into
// the void, new connections are accepted and their bytes dropped too. A TCP stream with a hole cannot go on,
// so when a link heals, every connection that lost bytes on it is reset (both sockets closed) and the nodes
// redial through the transport's own reconnect path: the transport under test runs unchanged.

/** Pipe: one byte direction of one proxied connection. */
interface Pipe {
  /** from, to: node ids (0 while the dialer's hello has not been read, and for a dialer that sent no hello). */
  from: number;
  to: number;
  /** lost: bytes were dropped on this pipe; the connection is reset when the link heals. */
  lost: boolean;
  /** pending: bytes taken from the source and not yet accepted by the sink's kernel buffer (or the sink not open yet). */
  pending: Uint8Array[];
}

interface Conn {
  target: number;
  dialer: Socket<ConnRef>;
  upstream: Socket<ConnRef> | null;
  connecting: boolean;
  /** head: the dialer's bytes before its first frame is complete. */
  head: Uint8Array;
  helloRead: boolean;
  /** forward: dialer → target; backward: target → dialer. */
  forward: Pipe;
  backward: Pipe;
  closed: boolean;
}

interface ConnRef {
  conn: Conn | null;
}

/** Bytes of a first frame larger than this are not a hello: forward them without a dialer id. */
const helloBytesMax = 4096;

export interface LinkCounters {
  forwardedBytes: number;
  droppedBytes: number;
  resets: number;
}

export class LinkProxy {
  private readonly listeners = new Map<number, TCPSocketListener<ConnRef>>();
  private readonly upstreams = new Map<number, () => string>();
  private readonly blocked = new Set<string>();
  private readonly conns = new Set<Conn>();
  private readonly counters = new Map<string, LinkCounters>();
  private closed = false;

  /**
   * listen opens the proxy for node `id` on a free loopback port and returns its address (what the node must
   * advertise). upstream() is the node's real Raft address, read on every new connection (it may move).
   */
  listen(id: number, upstream: () => string): string {
    if (this.listeners.has(id)) throw new Error(`link proxy: node ${id} already has a proxy`);
    this.upstreams.set(id, upstream);
    const listener = Bun.listen<ConnRef>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (socket) => {
          socket.setNoDelay(true);
          const conn: Conn = {
            target: id,
            dialer: socket,
            upstream: null,
            connecting: false,
            head: new Uint8Array(0),
            helloRead: false,
            forward: { from: 0, to: id, lost: false, pending: [] },
            backward: { from: id, to: 0, lost: false, pending: [] },
            closed: false,
          };
          socket.data = { conn };
          this.conns.add(conn);
        },
        data: (socket, chunk) => {
          const conn = socket.data?.conn;
          if (conn != null) this.fromDialer(conn, new Uint8Array(chunk));
        },
        drain: (socket) => {
          const conn = socket.data?.conn;
          if (conn != null) this.flush(conn, conn.backward);
        },
        close: (socket) => {
          const conn = socket.data?.conn;
          if (conn != null) this.destroy(conn);
        },
        error: (socket) => {
          const conn = socket.data?.conn;
          if (conn != null) this.destroy(conn);
        },
      },
    });
    this.listeners.set(id, listener);
    return `127.0.0.1:${listener.port}`;
  }

  /** cut drops everything `from` sends to `to` (one direction) until heal(from, to). */
  cut(from: number, to: number): void {
    this.blocked.add(linkKey(from, to));
  }

  /** cutBoth cuts both directions between a and b. */
  cutBoth(a: number, b: number): void {
    this.cut(a, b);
    this.cut(b, a);
  }

  /** partition cuts both directions between every pair of nodes in different groups (nodes in no group are untouched). */
  partition(...groups: number[][]): void {
    for (const [i, group] of groups.entries()) {
      for (const other of groups.slice(i + 1)) for (const a of group) for (const b of other) this.cutBoth(a, b);
    }
  }

  /** heal restores the link `from` → `to` and resets the connections that lost bytes on it. */
  heal(from: number, to: number): void {
    this.blocked.delete(linkKey(from, to));
    this.resetLost();
  }

  /** healAll restores every link. */
  healAll(): void {
    this.blocked.clear();
    this.resetLost();
  }

  isCut(from: number, to: number): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  /** cutLinks lists the cut links as "a->b", for reports. */
  cutLinks(): string[] {
    return [...this.blocked].sort();
  }

  /** stats: per link "a->b", bytes forwarded and dropped and connections reset so far. */
  stats(from: number, to: number): LinkCounters {
    return { ...this.counter(from, to) };
  }

  /** describe: the cut links and the per-link counters, for failure reports. */
  describe(): string {
    const lines = [`cut links: ${this.cutLinks().join(", ") || "none"}; open proxied connections: ${this.conns.size}`];
    for (const [key, c] of [...this.counters].sort()) lines.push(`  ${key}: forwarded ${c.forwardedBytes} B, dropped ${c.droppedBytes} B, resets ${c.resets}`);
    return lines.join("\n");
  }

  /** close stops every proxy listener and closes every proxied connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const conn of [...this.conns]) this.destroy(conn);
    for (const listener of this.listeners.values()) listener.stop(true);
    this.listeners.clear();
  }

  // ---- byte paths ------------------------------------------------------------------------------------------

  private fromDialer(conn: Conn, chunk: Uint8Array): void {
    if (conn.closed) return;
    if (conn.helloRead) {
      this.push(conn, conn.forward, chunk);
      return;
    }
    conn.head = concat(conn.head, chunk);
    const from = readHelloFrom(conn.head);
    if (from === undefined) return; // the first frame is not complete yet
    conn.helloRead = true;
    conn.forward.from = from;
    conn.backward.to = from;
    const head = conn.head;
    conn.head = new Uint8Array(0);
    this.push(conn, conn.forward, head);
  }

  private fromUpstream(conn: Conn, chunk: Uint8Array): void {
    if (!conn.closed) this.push(conn, conn.backward, chunk);
  }

  /** push sends `chunk` along `pipe`, or drops it when the pipe's link is cut. */
  private push(conn: Conn, pipe: Pipe, chunk: Uint8Array): void {
    const counter = this.counter(pipe.from, pipe.to);
    if (this.blocked.has(linkKey(pipe.from, pipe.to))) {
      pipe.lost = true;
      counter.droppedBytes += chunk.length;
      return;
    }
    counter.forwardedBytes += chunk.length;
    pipe.pending.push(chunk);
    if (pipe === conn.forward && conn.upstream === null) {
      this.connectUpstream(conn);
      return;
    }
    this.flush(conn, pipe);
  }

  /** flush writes a pipe's pending bytes to its sink; a short write pauses the source until the sink drains. */
  private flush(conn: Conn, pipe: Pipe): void {
    if (conn.closed) return;
    const sink = pipe === conn.forward ? conn.upstream : conn.dialer;
    const source = pipe === conn.forward ? conn.dialer : conn.upstream;
    if (sink === null) return;
    while (pipe.pending.length > 0) {
      const buf = pipe.pending[0]!;
      const written = sink.write(buf);
      if (written < 0) {
        this.destroy(conn);
        return;
      }
      if (written < buf.length) {
        pipe.pending[0] = buf.subarray(written);
        source?.pause();
        return;
      }
      pipe.pending.shift();
    }
    source?.resume();
  }

  private connectUpstream(conn: Conn): void {
    if (conn.connecting || conn.closed) return;
    conn.connecting = true;
    conn.dialer.pause(); // until the upstream is open (flush resumes it), so `pending` stays one chunk or so
    const [hostname, port] = splitAddr(this.upstreams.get(conn.target)!());
    const ref: ConnRef = { conn };
    Bun.connect<ConnRef>({
      hostname,
      port,
      data: ref,
      socket: {
        open: (socket) => {
          socket.setNoDelay(true);
          if (conn.closed) {
            socket.end();
            return;
          }
          conn.upstream = socket;
          this.flush(conn, conn.forward);
        },
        data: (_socket, chunk) => this.fromUpstream(conn, new Uint8Array(chunk)),
        drain: () => this.flush(conn, conn.forward),
        close: () => this.destroy(conn),
        error: () => this.destroy(conn),
      },
    }).catch(() => {
      // The node is down: the dialer sees its connection end, as it would see a refused connect.
      this.destroy(conn);
    });
  }

  /** resetLost closes every connection that lost bytes on a link that is no longer cut. */
  private resetLost(): void {
    for (const conn of [...this.conns]) {
      const broken = [conn.forward, conn.backward].filter((p) => p.lost && !this.blocked.has(linkKey(p.from, p.to)));
      if (broken.length === 0) continue;
      for (const pipe of broken) this.counter(pipe.from, pipe.to).resets += 1;
      this.destroy(conn);
    }
  }

  private destroy(conn: Conn): void {
    if (conn.closed) return;
    conn.closed = true;
    this.conns.delete(conn);
    conn.forward.pending = [];
    conn.backward.pending = [];
    conn.dialer.data = { conn: null };
    conn.dialer.end();
    conn.upstream?.end();
  }

  private counter(from: number, to: number): LinkCounters {
    const key = linkKey(from, to);
    let counter = this.counters.get(key);
    if (counter === undefined) {
      counter = { forwardedBytes: 0, droppedBytes: 0, resets: 0 };
      this.counters.set(key, counter);
    }
    return counter;
  }
}

function linkKey(from: number, to: number): string {
  return `${from}->${to}`;
}

function splitAddr(addr: string): [string, number] {
  const at = addr.lastIndexOf(":");
  return [addr.slice(0, at), Number(addr.slice(at + 1))];
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * readHelloFrom returns the `from` of the first frame in `head` once it is complete (0 when it is not a hello
 * naming a node: such a connection is forwarded but no cut applies to it), undefined while it is incomplete.
 */
function readHelloFrom(head: Uint8Array): number | undefined {
  if (head.length < 4) return undefined;
  const length = ((head[0]! << 24) >>> 0) + (head[1]! << 16) + (head[2]! << 8) + head[3]!;
  if (length === 0 || length > helloBytesMax) return 0;
  if (head.length < 4 + length) return undefined;
  try {
    const hello = unpack(head.subarray(4, 4 + length)) as { t?: unknown; from?: unknown } | null;
    return hello?.t === "hello" && typeof hello.from === "number" ? hello.from : 0;
  } catch {
    return 0;
  }
}
