// A raw TCP client for speaking (or garbling) the protocol by hand.
import type { Socket } from "bun";
import { FrameDecoder, encodeFrame } from "../../src/transport/frame.ts";
import { parseHostPort } from "../../src/transport/addr.ts";

export interface RawClient {
  socket: Socket<undefined>;
  /** frames decoded from what the server wrote back. */
  frames: unknown[];
  /** closed resolves when the server (or we) closed the connection. */
  closed: Promise<void>;
  isClosed(): boolean;
  write(bytes: Uint8Array | string): void;
  frame(value: unknown): void;
}

export async function rawConnect(addr: string): Promise<RawClient> {
  const { hostname, port } = parseHostPort(addr);
  const decoder = new FrameDecoder(1024 * 1024);
  const frames: unknown[] = [];
  let done = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const socket = await Bun.connect({
    hostname,
    port,
    socket: {
      data: (_s, chunk) => {
        try {
          frames.push(...decoder.push(chunk));
        } catch {
          // the test only cares about well-formed replies
        }
      },
      close: () => {
        done = true;
        resolveClosed();
      },
      error: () => {},
    },
  });
  return {
    socket,
    frames,
    closed,
    isClosed: () => done,
    write: (bytes) => void socket.write(bytes),
    frame: (value) => void socket.write(encodeFrame(value, 16 * 1024 * 1024)),
  };
}

/** closedWithin resolves true if the connection closed within ms. */
export async function closedWithin(client: RawClient, ms: number): Promise<boolean> {
  return Promise.race([client.closed.then(() => true), Bun.sleep(ms).then(() => false)]);
}

export function hello(from: number, to: number, cluster: string | null = "c1", kind: "raft" | "snap" = "raft") {
  return { t: "hello", v: 1, cluster, from, to, kind };
}
