import { afterEach, describe, expect, test } from "bun:test";
import { spawnPeer, type ChildPeer } from "./child.ts";
import { heartbeat, mesh, startNode, waitFor, type TestNode } from "./helpers.ts";

const nodes: TestNode[] = [];
const children: ChildPeer[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
  await Promise.all(children.splice(0).map((c) => c.kill9()));
});

/** freeAddr returns a loopback address nobody listens on (bound then released). */
function freeAddr(): string {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const addr = `127.0.0.1:${l.port}`;
  l.stop(true);
  return addr;
}

function commits(lines: string[], from: number): number[] {
  return lines.filter((l) => l.startsWith(`msg ${from} `)).map((l) => Number(l.split(" ")[2]));
}

describe("reconnect", () => {
  test("peer killed with SIGKILL and restarted on its port: delivery resumes", async () => {
    const a = await startNode(1, { tuning: { queueAgeMaxMs: 60_000 } });
    nodes.push(a);
    let b = await spawnPeer(2);
    children.push(b);
    const addr = b.addr;
    a.transport.setPeer(2, addr);
    a.transport.send(heartbeat(1, 2, 1));
    await waitFor(() => commits(b.lines, 1).includes(1), "first heartbeat");

    await b.kill9();
    children.splice(children.indexOf(b), 1);
    await waitFor(() => a.rec.unreachable.includes(2), "onUnreachable(2) after the kill");
    for (let i = 2; i <= 50; i++) a.transport.send(heartbeat(1, 2, i)); // queued while down
    await Bun.sleep(100);
    expect(a.transport.stats().peers[0]!.connected).toBe(false);

    b = await spawnPeer(2, addr);
    children.push(b);
    a.transport.send(heartbeat(1, 2, 51));
    await waitFor(() => commits(b.lines, 1).includes(51), "a heartbeat after the restart", 10_000);
    // The frames queued while the peer was down are delivered once it is back, in order.
    expect(commits(b.lines, 1)).toEqual([...Array(50).keys()].map((i) => i + 2));
    expect(a.transport.stats().peers[0]!.connects).toBe(2);
  }, 30_000);

  test("in-process peer restart: messages sent after it are delivered, unreachable reported once per interval", async () => {
    const a = await startNode(1);
    let b = await startNode(2);
    nodes.push(a);
    mesh([a, b]);
    a.transport.send(heartbeat(1, 2, 1));
    await waitFor(() => b.rec.messages.length === 1, "first message");
    const addr = b.transport.addr;
    await b.transport.close();
    await waitFor(() => a.rec.unreachable.length >= 1, "onUnreachable");
    const start = performance.now();
    a.transport.send(heartbeat(1, 2, 2));
    await Bun.sleep(400);
    // backoff 10 ms → 200 ms with attempts failing: at most one report per 50 ms interval.
    expect(a.rec.unreachable.length).toBeLessThanOrEqual(1 + Math.ceil((performance.now() - start) / 50));
    b = await startNode(2, { listen: addr });
    nodes.push(b);
    await waitFor(() => b.rec.messages.length === 1, "message sent while down");
    a.transport.send(heartbeat(1, 2, 3));
    await waitFor(() => b.rec.messages.length === 2, "message sent after restart");
    expect(b.rec.messages.map((m) => (m as { commit: number }).commit)).toEqual([2, 3]);
  });

  test("peer down: the queue stays bounded, drops are counted, onUnreachable fires", async () => {
    const a = await startNode(1, { tuning: { queueMessagesMax: 100, queueAgeMaxMs: 60_000 } });
    nodes.push(a);
    const addr = freeAddr();
    a.transport.setPeer(2, addr);
    for (let i = 0; i < 10_000; i++) a.transport.send(heartbeat(1, 2, i));
    await waitFor(() => a.rec.unreachable.includes(2), "onUnreachable(2)");
    const peer = a.transport.stats().peers[0]!;
    expect(peer.queuedMessages).toBe(100);
    expect(peer.droppedMessages).toBe(9900);
    expect(peer.connected).toBe(false);
    // Keep sending for a while: memory stays flat, the link keeps retrying.
    const deadline = performance.now() + 500;
    while (performance.now() < deadline) {
      for (let i = 0; i < 100; i++) a.transport.send(heartbeat(1, 2, -1));
      await Bun.sleep(10);
    }
    expect(a.transport.stats().peers[0]!.queuedMessages).toBe(100);
    expect(a.rec.unreachable.length).toBeGreaterThan(1);
    // The peer appears: the first 100 queued heartbeats (0..99) are delivered.
    const b = await startNode(2, { listen: addr });
    nodes.push(b);
    await waitFor(() => b.rec.messages.length === 100, "queued messages delivered");
    expect(b.rec.messages.map((m) => (m as { commit: number }).commit)).toEqual([...Array(100).keys()]);
    await waitFor(() => a.transport.stats().peers[0]!.queuedMessages === 0, "queue drained");
  });

  test("messages that waited longer than queueAgeMaxMs are dropped, not delivered late", async () => {
    const a = await startNode(1, { tuning: { queueAgeMaxMs: 300, queueMessagesMax: 10 } });
    nodes.push(a);
    const addr = freeAddr();
    a.transport.setPeer(2, addr);
    for (let i = 0; i < 10; i++) a.transport.send(heartbeat(1, 2, i));
    a.transport.send(heartbeat(1, 2, 10)); // queue full: dropped
    expect(a.transport.stats().peers[0]!).toMatchObject({ queuedMessages: 10, droppedMessages: 1, expiredMessages: 0 });
    await Bun.sleep(400);
    a.transport.send(heartbeat(1, 2, 11)); // the queue is full of stale frames: they make room
    expect(a.transport.stats().peers[0]!).toMatchObject({ queuedMessages: 1, droppedMessages: 11, expiredMessages: 10 });
    const b = await startNode(2, { listen: addr });
    nodes.push(b);
    a.transport.send(heartbeat(1, 2, 12));
    await waitFor(() => b.rec.messages.some((m) => (m as { commit: number }).commit === 12), "the fresh message");
    await Bun.sleep(50);
    // 11 may itself have aged out if the redial took over 300 ms; 0..9 never arrive.
    expect(b.rec.messages.map((m) => (m as { commit: number }).commit).filter((c) => c !== 11)).toEqual([12]);
  });

  test("setPeer with a new address redials; removePeer stops the link", async () => {
    const a = await startNode(1);
    const b1 = await startNode(2);
    const b2 = await startNode(2);
    nodes.push(a, b1, b2);
    a.transport.setPeer(2, b1.transport.addr);
    a.transport.send(heartbeat(1, 2, 1));
    await waitFor(() => b1.rec.messages.length === 1, "to the first address");
    a.transport.setPeer(2, b2.transport.addr);
    a.transport.send(heartbeat(1, 2, 2));
    await waitFor(() => b2.rec.messages.length === 1, "to the second address");
    expect(b1.rec.messages.length).toBe(1);
    a.transport.removePeer(2);
    a.transport.send(heartbeat(1, 2, 3));
    await Bun.sleep(50);
    expect(b2.rec.messages.length).toBe(1);
    expect(a.transport.stats().droppedUnknownPeer).toBe(1);
  });

  test("close(): listener gone, sends and snapshots are no-ops, no handler fires later", async () => {
    const a = await startNode(1);
    const b = await startNode(2);
    nodes.push(b);
    mesh([a, b]);
    b.transport.send(heartbeat(2, 1, 1));
    await waitFor(() => a.rec.messages.length === 1, "a message");
    await a.transport.close();
    await a.transport.close(); // idempotent
    a.transport.send(heartbeat(1, 2, 1));
    expect(await a.transport.sendSnapshot({ type: "snapshot", from: 1, to: 2, term: 1, snapshot: { index: 1, term: 1, conf: { members: [] } } }, new Uint8Array(10))).toBe(false);
    b.transport.send(heartbeat(2, 1, 2));
    await Bun.sleep(200);
    expect(a.rec.messages.length).toBe(1);
    expect(b.rec.messages.length).toBe(0);
    const unreachable = a.rec.unreachable.length;
    await Bun.sleep(100);
    expect(a.rec.unreachable.length).toBe(unreachable);
  });

  test("a malformed peer address does not throw; the peer is reported unreachable", async () => {
    const a = await startNode(1);
    nodes.push(a);
    expect(() => a.transport.setPeer(2, "not an address")).not.toThrow();
    a.transport.send(heartbeat(1, 2, 1));
    await waitFor(() => a.rec.unreachable.includes(2), "onUnreachable(2)");
    expect(await a.transport.sendSnapshot({ type: "snapshot", from: 1, to: 2, term: 1, snapshot: { index: 1, term: 1, conf: { members: [] } } }, new Uint8Array(1))).toBe(false);
  });

  test("a throwing onUnreachable is fatal too: onFatal gets it once", async () => {
    const a = await startNode(1);
    nodes.push(a);
    a.rec.unreachable.push = () => {
      throw new Error("handler bug");
    };
    a.transport.setPeer(2, "not an address");
    a.transport.send(heartbeat(1, 2, 1));
    await waitFor(() => a.rec.fatal.length === 1, "onFatal");
    expect(a.rec.fatal[0]!.message).toBe("onUnreachable(2) threw: handler bug");
    a.transport.send(heartbeat(1, 2, 2));
    await Bun.sleep(200);
    expect(a.rec.fatal.length).toBe(1);
  });

  test("listening on a busy address rejects", async () => {
    const a = await startNode(1);
    nodes.push(a);
    await expect(startNode(2, { listen: a.transport.addr })).rejects.toThrow("cannot listen");
  });
});
