import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { heartbeat, mesh, startNode, waitFor, type TestNode } from "./helpers.ts";
import { closedWithin, hello, rawConnect } from "./raw.ts";
import { openssl_missing, servedSerial, tlsFixture, type TlsFixture } from "../support/tls_fixture.ts";

// Mutual TLS on the peer transport: only certificates from the peer CA get a link; plaintext is closed at once.
const fx: TlsFixture | null = openssl_missing === null ? tlsFixture() : null;
afterAll(() => fx?.cleanup());
const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

async function node(id: number, tls: ReturnType<TlsFixture["pem"]>): Promise<TestNode> {
  const n = await startNode(id, { tls, tuning: { handshakeTimeoutMs: 1000 } });
  nodes.push(n);
  return n;
}

describe.skipIf(fx === null)("peer transport with mutual TLS", () => {
  test("two nodes with certificates from the peer CA exchange messages and snapshots", async () => {
    const a = await node(1, fx!.pem(fx!.issue("n1")));
    const b = await node(2, fx!.pem(fx!.issue("n2")));
    mesh([a, b]);
    a.transport.send(heartbeat(1, 2, 7));
    await waitFor(() => b.rec.messages.length > 0, "heartbeat over TLS");
    const data = crypto.getRandomValues(new Uint8Array(300_000));
    const members = [1, 2].map((id) => ({ id, role: "voter", raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" }));
    const message = { type: "snapshot", from: 1, to: 2, term: 1, snapshot: { index: 5, term: 1, conf: { members } } };
    expect(await a.transport.sendSnapshot(message as never, data)).toBe(true);
    expect(b.rec.snapshots[0]!.data).toEqual(data);
  });

  test("a peer whose certificate is from another CA is refused at the handshake", async () => {
    const a = await node(1, fx!.pem(fx!.issue("n1")));
    // The stranger trusts our CA (so it accepts our server certificate), but its own is someone else's.
    const stranger = await node(2, { ...fx!.pem(fx!.issue("n2", { by: "other" })), ca: fx!.pem(fx!.issue("x")).ca });
    mesh([a, stranger]);
    stranger.transport.send(heartbeat(2, 1, 1));
    await waitFor(() => a.transport.stats().refused > 0, "the listener to refuse the stranger");
    await Bun.sleep(200);
    expect(a.rec.messages).toEqual([]);
  });

  test("an expired certificate is refused", async () => {
    const a = await node(1, fx!.pem(fx!.issue("n1")));
    const old = await node(2, fx!.pem(fx!.issue("n2", { days: -1 })));
    mesh([a, old]);
    old.transport.send(heartbeat(2, 1, 1));
    await waitFor(() => a.transport.stats().refused > 0, "the listener to refuse the expired certificate");
    await Bun.sleep(200);
    expect(a.rec.messages).toEqual([]);
  });

  test("plaintext to the TLS peer port is closed at once", async () => {
    const a = await node(1, fx!.pem(fx!.issue("n1")));
    const raw = await rawConnect(a.transport.addr);
    raw.frame(hello(2, 1));
    expect(await closedWithin(raw, 500)).toBe(true);
    expect(a.rec.messages).toEqual([]);
  });

  test("reloadTls: new connections get the new certificate, links keep working", async () => {
    const first = fx!.issue("n1");
    const a = await node(1, fx!.pem(first));
    const b = await node(2, fx!.pem(fx!.issue("n2")));
    mesh([a, b]);
    const client = fx!.pem(fx!.issue("probe"));
    const before = await servedSerial(a.transport.addr, client);
    expect(before).toBe(new X509Certificate(readFileSync(first.cert)).serialNumber);
    const second = fx!.issue("n1b");
    a.transport.reloadTls(fx!.pem(second));
    const after = await servedSerial(a.transport.addr, client);
    expect(after).toBe(new X509Certificate(readFileSync(second.cert)).serialNumber);
    expect(after).not.toBe(before);
    b.transport.send(heartbeat(2, 1, 3));
    a.transport.send(heartbeat(1, 2, 4));
    await waitFor(() => a.rec.messages.length > 0 && b.rec.messages.length > 0, "messages both ways after the reload");
  });
});
