import { afterEach, describe, expect, test } from "bun:test";
import { heartbeat, mesh, startNode, waitFor, type TestNode } from "./helpers.ts";
import { closedWithin, hello, rawConnect } from "./raw.ts";

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

/** pair starts node 1 and node 2 meshed, and checks a message gets through (the transport works). */
async function pair(): Promise<[TestNode, TestNode]> {
  const a = await startNode(1, { tuning: { handshakeTimeoutMs: 1000 } });
  const b = await startNode(2, { tuning: { handshakeTimeoutMs: 1000 } });
  nodes.push(a, b);
  mesh([a, b]);
  return [a, b];
}

async function stillWorks(a: TestNode, b: TestNode, commit: number): Promise<void> {
  a.transport.send(heartbeat(a.id, b.id, commit));
  await waitFor(() => b.rec.messages.some((m) => (m as { commit?: number }).commit === commit), `heartbeat ${commit}`);
}

describe("bad bytes on the raft port close that connection only", () => {
  test.each([
    ["garbage bytes", new Uint8Array([0x00, 0x00, 0x00, 0x05, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1])],
    ["a huge length prefix", new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3])],
    ["an HTTP request", "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["a message before the handshake", new Uint8Array([0, 0, 0, 5, 0x81, 0xa1, 0x74, 0xa1, 0x6d])], // {t:"m"}
    ["random bytes", crypto.getRandomValues(new Uint8Array(4096))],
  ])("%s", async (_name, bytes) => {
    const [a, b] = await pair();
    await stillWorks(a, b, 1); // the good link exists before the attack
    const raw = await rawConnect(b.transport.addr);
    raw.write(bytes);
    expect(await closedWithin(raw, 2000)).toBe(true);
    await stillWorks(a, b, 2); // the existing link survived
    expect(b.transport.stats().protocolErrors + b.transport.stats().refused).toBeGreaterThan(0);
  });

  test("garbage after a valid handshake closes that link; the sender reconnects", async () => {
    const [a, b] = await pair();
    const raw = await rawConnect(b.transport.addr);
    raw.frame(hello(1, 2));
    raw.frame({ t: "m", m: heartbeat(1, 2, 99) });
    raw.frame({ t: "m", m: { type: "heartbeat", from: 1, to: 2 } }); // malformed message
    expect(await closedWithin(raw, 2000)).toBe(true);
    expect(b.rec.messages.map((m) => (m as { commit: number }).commit)).toEqual([99]);
    await stillWorks(a, b, 3);
  });

  test("a connection that never says hello is closed after the handshake timeout", async () => {
    const [, b] = await pair();
    const raw = await rawConnect(b.transport.addr);
    expect(await closedWithin(raw, 500)).toBe(false);
    expect(await closedWithin(raw, 3000)).toBe(true);
  });

  test("a frame over the pre-handshake limit is refused without waiting for its bytes", async () => {
    const [, b] = await pair();
    const raw = await rawConnect(b.transport.addr);
    raw.write(new Uint8Array([0, 1, 0, 0])); // 64 KiB hello
    expect(await closedWithin(raw, 2000)).toBe(true);
  });
});

describe("handshake refusals", () => {
  test("wrong cluster id: refused with a reason, nothing delivered", async () => {
    const [, b] = await pair();
    const raw = await rawConnect(b.transport.addr);
    raw.frame(hello(1, 2, "other-cluster"));
    raw.frame({ t: "m", m: heartbeat(1, 2, 5) });
    expect(await closedWithin(raw, 2000)).toBe(true);
    expect(raw.frames[0]).toMatchObject({ t: "refuse" });
    expect((raw.frames[0] as { reason: string }).reason).toContain("other-cluster");
    expect(b.rec.messages).toEqual([]);
  });

  test("unknown node: refused", async () => {
    const b = await startNode(2, { known: (id) => id === 1 });
    nodes.push(b);
    const raw = await rawConnect(b.transport.addr);
    raw.frame(hello(7, 2));
    raw.frame({ t: "m", m: heartbeat(7, 2, 5) });
    expect(await closedWithin(raw, 2000)).toBe(true);
    expect((raw.frames[0] as { reason: string }).reason).toContain("not a known member");
    expect(b.rec.messages).toEqual([]);
  });

  test("hello addressed to another node id: refused", async () => {
    const [, b] = await pair();
    const raw = await rawConnect(b.transport.addr);
    raw.frame(hello(1, 3));
    expect(await closedWithin(raw, 2000)).toBe(true);
    expect((raw.frames[0] as { reason: string }).reason).toContain("this is node 2");
  });

  test("a message whose from differs from the handshake closes the link", async () => {
    const [, b] = await pair();
    const raw = await rawConnect(b.transport.addr);
    raw.frame(hello(1, 2));
    raw.frame({ t: "m", m: heartbeat(3, 2, 5) });
    expect(await closedWithin(raw, 2000)).toBe(true);
    expect(b.rec.messages).toEqual([]);
  });

  test("real transports of different clusters never deliver to each other", async () => {
    const a = await startNode(1, { cluster: "c-a" });
    const b = await startNode(2, { cluster: "c-b" });
    nodes.push(a, b);
    mesh([a, b]);
    for (let i = 0; i < 5; i++) a.transport.send(heartbeat(1, 2, i));
    await waitFor(() => b.transport.stats().refused >= 1, "a refusal");
    await waitFor(() => a.rec.unreachable.includes(2), "onUnreachable(2) at the sender");
    await Bun.sleep(100);
    expect(b.rec.messages).toEqual([]);
  });

  test("a fresh node without a cluster id accepts any cluster (and is accepted)", async () => {
    const a = await startNode(1, { cluster: "c-a" });
    const b = await startNode(2, { cluster: null });
    nodes.push(a, b);
    mesh([a, b]);
    await stillWorks(a, b, 1);
    await stillWorks(b, a, 2);
  });

  test("a peer removed from isKnownPeer is cut off on its next message", async () => {
    let known = true;
    const a = await startNode(1);
    const b = await startNode(2, { known: () => known });
    nodes.push(a, b);
    mesh([a, b]);
    await stillWorks(a, b, 1);
    known = false;
    a.transport.send(heartbeat(1, 2, 2));
    await waitFor(() => b.transport.stats().refused >= 1, "refusal");
    expect(b.rec.messages.length).toBe(1);
  });
});
