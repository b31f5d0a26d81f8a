// Oversize bodies get a JSON 413 (not Bun's empty one), whether the size is declared or streamed, and memory stays
// bounded: a huge declared body is refused before it is sent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestNode, type TestNode } from "./fake_api.ts";

const body_max = 2 * 1024 * 1024;
let node: TestNode;
let port: number;

beforeAll(() => {
  node = startTestNode(1, { maxBodyBytes: body_max });
  port = Number(node.server.addr.split(":").at(-1));
});
afterAll(() => node.server.stop());

async function expectJson413(response: Response): Promise<void> {
  expect(response.status).toBe(413);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.error).toBe("too_large");
  expect(String(body.message)).toContain("body");
}

function chunkedBody(chunks: number, chunkBytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === 0) controller.enqueue(new TextEncoder().encode('{"op":"put","key":"a","value":"'));
      if (sent === chunks) {
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
        return;
      }
      controller.enqueue(new Uint8Array(chunkBytes).fill(0x78));
      sent += 1;
    },
  });
}

describe("body limits", () => {
  test("a declared body just over the limit: JSON 413", async () => {
    const response = await fetch(`${node.base}/kv`, { method: "POST", body: "x".repeat(body_max + 1) });
    await expectJson413(response);
  });

  test("a 3 MiB put (value over 1 MiB inside a body over 2 MiB): JSON 413, nothing written", async () => {
    const body = JSON.stringify({ op: "put", key: "a", value: "x".repeat(3 * 1024 * 1024) });
    await expectJson413(await fetch(`${node.base}/kv`, { method: "POST", body }));
    expect(node.api.mutations()).toEqual([]);
  });

  test("a 64 MiB declared body (far above any limit) still gets the JSON 413", async () => {
    const response = await fetch(`${node.base}/join`, { method: "POST", body: new Uint8Array(64 * 1024 * 1024) });
    await expectJson413(response);
  });

  test("a chunked body is counted as it streams: JSON 413 once it passes the limit", async () => {
    const response = await fetch(`${node.base}/kv`, { method: "POST", body: chunkedBody(48, 64 * 1024) });
    await expectJson413(response);
    expect(node.api.mutations()).toEqual([]);
  });

  test("a chunked body under the limit is accepted", async () => {
    const response = await fetch(`${node.base}/kv`, { method: "POST", body: chunkedBody(4, 1000) });
    expect(response.status).toBe(200);
    expect(node.api.data.get("a")?.length).toBe(4000);
  });

  test("a huge Content-Length is refused from the headers alone, before any body byte is sent", async () => {
    let received = "";
    const { promise: answered, resolve } = Promise.withResolvers<void>();
    const socket = await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_socket, data) {
          received += new TextDecoder().decode(data);
          if (received.includes("}")) resolve();
        },
      },
    });
    try {
      socket.write("POST /kv HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n");
      await Promise.race([answered, Bun.sleep(2000)]);
      expect(received.startsWith("HTTP/1.1 413")).toBe(true);
      expect(received).toContain('"error":"too_large"');
    } finally {
      socket.end();
    }
  });

  test("the node keeps serving after all of that", async () => {
    const response = await fetch(`${node.base}/kv?key=a`);
    expect(response.status).toBe(200);
  });
});
