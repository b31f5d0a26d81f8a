import { expect, test } from "bun:test";
import { check, Cluster, fastFlags, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Junk sent to the raft port (a length prefix over the frame limit, random bytes, a well-sized frame of garbage,
// an HTTP request) must close that one connection and nothing else: the node keeps running and the cluster keeps
// replicating over its real peer connections.

const cluster = new Cluster({ name: "it-garbage", extraArgs: fastFlags });
const timeout = 30_000;

formedForThisFile(cluster, { timeoutMs: timeout });

interface Outcome {
  closedByPeer: boolean;
  received: number;
}

/** sendJunk connects to `addr`, writes `bytes`, and reports whether the node closed the connection within `waitMs`. */
async function sendJunk(addr: string, bytes: Uint8Array, waitMs = 3000): Promise<Outcome> {
  const [hostname, port] = addr.split(":");
  let closed = false;
  let received = 0;
  const socket = await Bun.connect({
    hostname: hostname!,
    port: Number(port),
    socket: {
      data(_socket, data) {
        received += data.byteLength;
      },
      close() {
        closed = true;
      },
      end() {
        closed = true;
      },
      error() {
        closed = true;
      },
    },
  });
  let offset = 0;
  // socket.write accepts only what the kernel takes (BUN-NOTES §4): keep writing the rest until done or closed.
  const started = performance.now();
  while (offset < bytes.byteLength && !closed && performance.now() - started < waitMs) {
    const n = socket.write(bytes.subarray(offset));
    if (n < 0) break;
    offset += n;
    if (n === 0) await Bun.sleep(5);
  }
  try {
    await waitFor(() => closed, { deadlineMs: waitMs, what: "the node to close the junk connection" });
  } catch {
    // Reported through closedByPeer.
  }
  socket.end();
  return { closedByPeer: closed, received };
}

function u32(n: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n >>> 0, false);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const junk: { name: string; bytes: Uint8Array; mustClose: boolean }[] = [
  { name: "a length prefix of 4 GiB", bytes: concat(u32(0xffffffff), randomBytes(64, 1)), mustClose: true },
  { name: "an HTTP request", bytes: new TextEncoder().encode("GET /status HTTP/1.1\r\nHost: x\r\n\r\n"), mustClose: true },
  { name: "a small frame of garbage", bytes: concat(u32(32), randomBytes(32, 2)), mustClose: true },
  { name: "64 KiB of random bytes", bytes: randomBytes(64 * 1024, 3), mustClose: false },
];

async function clusterStillWorks(key: string): Promise<void> {
  for (const id of [1, 2, 3]) check(cluster.isRunning(id), `node ${id} still runs (${cluster.describeExit(id)})`);
  const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3], deadlineMs: 10_000 });
  const reply = await cluster.put(leaderId, key, "ok");
  expect(reply.status).toBe(200);
  for (const id of [1, 2, 3]) expect((await cluster.get(id, key)).json?.value).toBe("ok");
}

for (const [index, j] of junk.entries()) {
  test(`${j.name} sent to every node's raft port closes that connection only`, async () => {
    await cluster.explain(async () => {
      await cluster.waitForLeader({ among: [1, 2, 3] });
      for (const id of [1, 2, 3]) {
        const outcome = await sendJunk(cluster.node(id).raftAddr, j.bytes);
        if (j.mustClose) check(outcome.closedByPeer, `node ${id} closed the connection that sent ${j.name}`);
      }
      await clusterStillWorks(`after_junk_${index}`);
    });
  }, timeout);
}

test("a connection that sends nothing and one cut mid-frame leave the node running", async () => {
  await cluster.explain(async () => {
    const leader = (await cluster.waitForLeader()).leaderId;
    const [hostname, port] = cluster.node(leader).raftAddr.split(":");
    const idle = await Bun.connect({ hostname: hostname!, port: Number(port), socket: { data() {} } });
    const cut = await Bun.connect({ hostname: hostname!, port: Number(port), socket: { data() {} } });
    cut.write(concat(u32(1000), randomBytes(10, 4)));
    cut.end();
    await clusterStillWorks("after_idle_and_cut");
    idle.end();
  });
}, timeout);
