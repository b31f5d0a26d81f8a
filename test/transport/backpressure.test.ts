import { afterEach, expect, test } from "bun:test";
import net from "node:net";
import { FrameDecoder } from "../../src/transport/frame.ts";
import { parseFrame } from "../../src/transport/wire.ts";
import { startNode, waitFor, type TestNode } from "./helpers.ts";

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

test("a reader that stalls: short writes are resumed on drain, every frame arrives whole and in order", async () => {
  // A raw peer that does not read for 300 ms: the kernel buffers fill and socket.write returns short counts.
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  const frames: unknown[] = [];
  let chunks = 0;
  const server = net.createServer((sock) => {
    sock.pause();
    setTimeout(() => sock.resume(), 300);
    sock.on("data", (chunk: Buffer) => {
      chunks++;
      decoder.push(chunk, (v) => frames.push(parseFrame(v)));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const a = await startNode(1);
    nodes.push(a);
    a.transport.setPeer(2, `127.0.0.1:${port}`);
    const ctx = "x".repeat(16 * 1024);
    const total = 2000; // ~32 MB: far more than the socket buffers hold
    for (let i = 0; i < total; i++) a.transport.send({ type: "heartbeat", from: 1, to: 2, term: 1, commit: i, ctx });
    await Bun.sleep(100);
    const stalled = a.transport.stats().peers[0]!;
    expect(stalled.queuedBytes).toBeGreaterThan(1024 * 1024); // held by us, not silently lost
    await waitFor(() => frames.length === total + 1, "hello + every heartbeat", 20_000);
    expect(frames[0]).toMatchObject({ t: "hello", from: 1, to: 2, kind: "raft" });
    const commits = frames.slice(1).map((f) => (f as { m: { commit: number; ctx: string } }).m);
    expect(commits.map((m) => m.commit)).toEqual([...Array(total).keys()]);
    expect(commits.every((m) => m.ctx === ctx)).toBe(true);
    expect(a.transport.stats().peers[0]!).toMatchObject({ queuedMessages: 0, queuedBytes: 0, droppedMessages: 0, sentMessages: total });
    expect(chunks).toBeGreaterThan(1);
  } finally {
    server.close();
  }
}, 30_000);

test("small frames sent in one tick are coalesced into few writes", async () => {
  const sizes: number[] = [];
  const server = net.createServer((sock) => sock.on("data", (c: Buffer) => sizes.push(c.length)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const a = await startNode(1);
    nodes.push(a);
    a.transport.setPeer(2, `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    a.transport.send({ type: "timeout_now", from: 1, to: 2, term: 1 });
    await waitFor(() => sizes.length > 0, "connection");
    await Bun.sleep(50);
    sizes.length = 0;
    const before = a.transport.stats().peers[0]!.sentBatches;
    for (let i = 0; i < 500; i++) a.transport.send({ type: "heartbeat", from: 1, to: 2, term: 1, commit: i, ctx: "" });
    await waitFor(() => a.transport.stats().peers[0]!.sentMessages === 501, "all written");
    // 500 frames of ~60 B sent in one tick went out as one write, not 500.
    expect(a.transport.stats().peers[0]!.sentBatches - before).toBe(1);
    await waitFor(() => sizes.reduce((x, y) => x + y, 0) > 500 * 40, "bytes at the reader");
  } finally {
    server.close();
  }
});
