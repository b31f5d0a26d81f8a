// Starting and stopping the server: a busy port is a clear error, stop() lets in-flight requests finish within
// the request deadline and then refuses new connections.
import { describe, expect, test } from "bun:test";
import { startHttpServer } from "../../src/node/http/server.ts";
import { FakeNodeApi, postJson, startTestNode, test_options } from "./fake_api.ts";

describe("lifecycle", () => {
  test("addr is the bound host:port; a busy port is refused with a message naming it", async () => {
    const node = startTestNode(1);
    try {
      expect(node.server.addr).toMatch(/^127\.0\.0\.1:[1-9][0-9]*$/);
      expect(() => startHttpServer(new FakeNodeApi(2), { ...test_options, listen: node.server.addr })).toThrow(
        `cannot listen for HTTP on ${node.server.addr}`,
      );
    } finally {
      await node.server.stop();
    }
  });

  test("stop() lets an in-flight write finish, then refuses new connections", async () => {
    const node = startTestNode(1, { requestTimeoutMs: 2000 });
    node.api.delayMs = 200;
    const inFlight = postJson(`${node.base}/kv`, { op: "put", key: "a", value: "1" });
    await Bun.sleep(50);
    const started = performance.now();
    await node.server.stop();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, index: 1 });
    expect(performance.now() - started).toBeLessThan(1500);
    expect(fetch(`${node.base}/livez`)).rejects.toThrow();
  });

  test("stop() is bounded by requestTimeoutMs even if a request hangs", async () => {
    const node = startTestNode(1, { requestTimeoutMs: 300 });
    node.api.delayMs = 5000;
    const hanging = postJson(`${node.base}/kv`, { op: "put", key: "a", value: "1" }).catch((error: unknown) => error);
    await Bun.sleep(50);
    const started = performance.now();
    await node.server.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await hanging).toBeInstanceOf(Error);
    // a second stop() is the same promise, not a second shutdown
    await node.server.stop();
  });

  test("garbage bytes and broken HTTP on the port close that connection only; the server keeps serving", async () => {
    const node = startTestNode(1);
    const port = Number(node.server.addr.split(":").at(-1));
    try {
      const payloads = [
        new Uint8Array(4096).map((_, i) => (i * 7919 + 13) % 256),
        new TextEncoder().encode("GARBAGE\r\n\r\n"),
        new TextEncoder().encode("POST /kv HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
        new TextEncoder().encode("POST /kv HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
      ];
      for (const payload of payloads) {
        const { promise: closed, resolve } = Promise.withResolvers<void>();
        const socket = await Bun.connect({
          hostname: "127.0.0.1",
          port,
          socket: { data() {}, close: () => resolve(), error: () => resolve() },
        });
        socket.write(payload);
        await Promise.race([closed, Bun.sleep(300)]);
        socket.end();
      }
      const response = await postJson(`${node.base}/kv`, { op: "put", key: "after", value: "garbage" });
      expect(response.status).toBe(200);
      expect(node.api.mutations().length).toBe(1);
    } finally {
      await node.server.stop();
    }
  });
});
