import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import http2 from "node:http2";
import { status } from "@grpc/grpc-js";
import { type GrpcServer, startGrpcServer } from "../../../src/node/grpc/server.ts";
import { FrameReader, frame, timeoutMs, WireError } from "../../../src/node/grpc/wire.ts";
import { putFrame } from "../../../src/cli/bench/grpc_wire.ts";
import { FakeBackend } from "./fake_backend.ts";

// The endpoint's own gRPC wire layer (wire.ts, call.ts, server.ts): message framing across DATA chunks, limits
// checked before a message is buffered, grpc-timeout enforced by the server (not only by well-behaved clients),
// and several messages where a unary call wants one.

describe("FrameReader", () => {
  test("messages split across chunks and several messages in one chunk come out whole and in order", () => {
    const a = frame(Buffer.from("hello"));
    const b = frame(Buffer.alloc(70_000, 7));
    const c = frame(Buffer.alloc(0));
    const all = Buffer.concat([a, b, c]);
    const out: Buffer[] = [];
    const reader = new FrameReader(1 << 20);
    for (let at = 0; at < all.length; at += 3) reader.push(all.subarray(at, at + 3), (m) => out.push(Buffer.from(m)));
    expect(out.map((m) => m.length)).toEqual([5, 70_000, 0]);
    expect(out[0]!.toString()).toBe("hello");
    expect(reader.partial).toBe(false);
    reader.push(a.subarray(0, 4), () => undefined);
    expect(reader.partial).toBe(true);
  });

  test("an oversized message is refused from its prefix alone; a compressed one is refused", () => {
    const reader = new FrameReader(100);
    const prefix = Buffer.from([0, 0, 0, 0, 101]);
    expect(() => reader.push(prefix, () => undefined)).toThrow(WireError);
    try {
      new FrameReader(100).push(prefix, () => undefined);
    } catch (error) {
      expect((error as WireError).code).toBe(status.RESOURCE_EXHAUSTED);
    }
    try {
      new FrameReader(100).push(Buffer.from([1, 0, 0, 0, 1, 0]), () => undefined);
      throw new Error("not refused");
    } catch (error) {
      expect((error as WireError).code).toBe(status.UNIMPLEMENTED);
    }
  });

  test("grpc-timeout units", () => {
    expect(timeoutMs("5S")).toBe(5_000);
    expect(timeoutMs("100m")).toBe(100);
    expect(timeoutMs("2M")).toBe(120_000);
    expect(timeoutMs("1H")).toBe(3_600_000);
    expect(timeoutMs("3000u")).toBe(3);
    expect(timeoutMs("5s")).toBeNull();
    expect(timeoutMs(undefined)).toBeNull();
  });
});

/** Answer: what a raw HTTP/2 client saw of one call. */
interface Answer {
  grpcStatus: string | undefined;
  grpcMessage: string;
  bytes: number;
  ms: number;
}

function rawCall(addr: string, path: string, headers: Record<string, string>, body: Buffer, end = true): Promise<Answer> {
  const session = http2.connect(`http://${addr}`);
  session.on("error", () => undefined);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    let grpcStatus: string | undefined;
    let grpcMessage = "";
    let bytes = 0;
    stream.on("response", (h) => {
      if (h["grpc-status"] !== undefined) [grpcStatus, grpcMessage] = [String(h["grpc-status"]), decodeURI(String(h["grpc-message"] ?? ""))];
    });
    stream.on("trailers", (t) => {
      [grpcStatus, grpcMessage] = [String(t["grpc-status"]), decodeURI(String(t["grpc-message"] ?? ""))];
    });
    stream.on("data", (chunk: Buffer) => (bytes += chunk.length));
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve({ grpcStatus, grpcMessage, bytes, ms: performance.now() - started });
    });
    if (end) stream.end(body);
    else stream.write(body);
  });
}

describe("the endpoint's wire handling", () => {
  let server: GrpcServer;
  const backend = new FakeBackend();
  beforeAll(async () => {
    // Puts of the key "hang" never finish: the server's deadline must end the call.
    const put = backend.put.bind(backend);
    backend.put = (request) => (Buffer.from(request.key).toString() === "hang" ? new Promise(() => undefined) : put(request));
    server = await startGrpcServer(backend, { listen: "127.0.0.1:0", maxMessageBytes: 64 * 1024, stopTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await server.stop();
  });

  test("the server ends a call past its grpc-timeout with DEADLINE_EXCEEDED (the client sets no timer)", async () => {
    const answer = await rawCall(server.addr, "/etcdserverpb.KV/Put", { "grpc-timeout": "200m" }, Buffer.from(putFrame("hang", new Uint8Array(3))));
    expect(answer.grpcStatus).toBe(String(status.DEADLINE_EXCEEDED));
    expect(answer.ms).toBeGreaterThanOrEqual(150);
    expect(answer.ms).toBeLessThan(5_000);
  });

  test("a unary call with two messages is refused and nothing is written", async () => {
    const before = backend.revision;
    const one = Buffer.from(putFrame("two", new Uint8Array(3)));
    const answer = await rawCall(server.addr, "/etcdserverpb.KV/Put", {}, Buffer.concat([one, one]));
    expect(answer.grpcStatus).toBe(String(status.UNIMPLEMENTED));
    expect(backend.revision).toBe(before);
  });

  test("a put split into many DATA frames is applied once; the answer has grpc-status 0", async () => {
    const before = backend.revision;
    const answer = await rawCall(server.addr, "/etcdserverpb.KV/Put", {}, Buffer.from(putFrame("big", new Uint8Array(60_000).fill(1))));
    expect(answer.grpcStatus).toBe("0");
    expect(answer.bytes).toBeGreaterThan(5);
    expect(backend.revision).toBe(before + 1);
  });

  test("a non-gRPC request gets HTTP 415 and the server goes on", async () => {
    const session = http2.connect(`http://${server.addr}`);
    const code = await new Promise<number>((resolve) => {
      const stream = session.request({ ":method": "GET", ":path": "/" });
      stream.on("response", (h) => resolve(Number(h[":status"])));
      stream.on("error", () => resolve(-1));
      stream.end();
    });
    session.close();
    expect(code).toBe(415);
    const answer = await rawCall(server.addr, "/etcdserverpb.KV/Put", {}, Buffer.from(putFrame("after", new Uint8Array(1))));
    expect(answer.grpcStatus).toBe("0");
  });
});
