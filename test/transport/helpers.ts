// Test helpers: transports on loopback port 0 that record what they receive.
import type { Message, NodeId } from "../../src/raft/types.ts";
import { waitFor as launcherWaitFor } from "../../src/cli/launcher/index.ts";
import { createTransport, type PeerTls, type QklzlTransport, type TransportTuning } from "../../src/transport/index.ts";

export interface Recorder {
  messages: Message[];
  snapshots: { message: Message & { type: "snapshot" }; data: Uint8Array }[];
  unreachable: NodeId[];
  /** fatal: what onFatal received (a handler threw). */
  fatal: Error[];
  /** onSnapshot may be replaced by a test (to delay or fail it). */
  onSnapshot: (message: Message & { type: "snapshot" }, data: Uint8Array) => Promise<void>;
}

export interface TestNode {
  id: NodeId;
  transport: QklzlTransport;
  rec: Recorder;
}

export interface StartOptions {
  cluster?: string | null;
  known?: (id: NodeId) => boolean;
  tuning?: Partial<TransportTuning>;
  listen?: string;
  /** tls: mutual TLS with these PEM texts (tls.test.ts). */
  tls?: PeerTls | null;
}

export async function startNode(id: NodeId, opts: StartOptions = {}): Promise<TestNode> {
  const rec: Recorder = {
    messages: [],
    snapshots: [],
    unreachable: [],
    fatal: [],
    onSnapshot: async (message, data) => {
      rec.snapshots.push({ message, data });
    },
  };
  const cluster = opts.cluster === undefined ? "c1" : opts.cluster;
  const transport = await createTransport({
    nodeId: id,
    listen: opts.listen ?? "127.0.0.1:0",
    clusterId: () => cluster,
    isKnownPeer: opts.known ?? (() => true),
    tls: opts.tls ?? null,
    tuning: { backoffMinMs: 10, backoffMaxMs: 200, unreachableIntervalMs: 50, ...opts.tuning },
    handlers: {
      onMessage: (m) => rec.messages.push(m),
      onSnapshot: (m, d) => rec.onSnapshot(m, d),
      onUnreachable: (peer) => rec.unreachable.push(peer),
      onFatal: (error) => rec.fatal.push(error),
    },
  });
  return { id, transport, rec };
}

/** mesh tells every node where every other one listens. */
export function mesh(nodes: TestNode[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.transport.setPeer(b.id, b.transport.addr);
}

/**
 * waitFor polls `cond` every 5 ms until it holds or `ms` passes (then throws with `what`): the one waitFor
 * (src/cli/launcher/wait.ts) in the argument order these tests were written with.
 */
export async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  await launcherWaitFor(cond, { deadlineMs: ms, what, intervalMs: 5 });
}

export function heartbeat(from: NodeId, to: NodeId, commit: number): Message {
  return { type: "heartbeat", from, to, term: 1, commit, ctx: "" };
}
