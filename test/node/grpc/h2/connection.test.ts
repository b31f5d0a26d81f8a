// The HTTP/2 connection of src/node/grpc/h2/ driven byte by byte: a request and its answer, malformed frames
// (each a connection error with GOAWAY and its code, never a throw), random bytes, and flow control both ways
// (a peer's small windows and a sink that takes nothing bound what the server queues).
import { describe, expect, test } from "bun:test";
import type { IncomingHttpHeaders } from "node:http2";
import { connection_preface, ErrorCode, Flag, frame, FrameType, Setting, settingsFrame, windowUpdateFrame } from "../../../../src/node/grpc/h2/frames.ts";
import { encodeHeaders, HpackDecoder } from "../../../../src/node/grpc/h2/hpack.ts";
import { default_h2_limits, H2Connection, type H2Limits, type H2Stream } from "../../../../src/node/grpc/h2/index.ts";

/** FakeSink: takes `accept` bytes per write (Infinity: all), keeps what it took. */
class FakeSink {
  taken: Buffer[] = [];
  offered = 0;
  closed = false;
  constructor(public accept = Infinity) {}
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 4242;
  write(bytes: Uint8Array): number {
    if (this.closed) return -1;
    this.offered = Math.max(this.offered, bytes.length);
    const n = Math.min(bytes.length, this.accept);
    this.taken.push(Buffer.from(bytes.subarray(0, n)));
    return n;
  }
  close(): void {
    this.closed = true;
  }
  /** frames: what the server sent, parsed. */
  frames(): { type: number; flags: number; streamId: number; payload: Buffer }[] {
    const all = Buffer.concat(this.taken);
    const out = [];
    for (let at = 0; at + 9 <= all.length; ) {
      const length = all.readUIntBE(at, 3);
      out.push({ type: all[at + 3]!, flags: all[at + 4]!, streamId: all.readUInt32BE(at + 5) & 0x7fffffff, payload: all.subarray(at + 9, at + 9 + length) });
      at += 9 + length;
    }
    return out;
  }
  goaway(): number | null {
    const g = this.frames().find((f) => f.type === FrameType.GOAWAY);
    return g === undefined ? null : g.payload.readUInt32BE(4);
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

function open(options: { accept?: number; settings?: [number, number][]; limits?: H2Limits; onStream?: (s: H2Stream, h: IncomingHttpHeaders) => void } = {}) {
  const sink = new FakeSink(options.accept);
  const streams: { stream: H2Stream; headers: IncomingHttpHeaders; data: Buffer[]; ended: boolean }[] = [];
  const connection = new H2Connection(sink, (stream, headers) => {
    const entry = { stream, headers, data: [] as Buffer[], ended: false };
    streams.push(entry);
    stream.on("data", (chunk: Buffer) => entry.data.push(chunk));
    stream.on("end", () => (entry.ended = true));
    options.onStream?.(stream, headers);
  }, options.limits);
  connection.receive(Buffer.concat([connection_preface, settingsFrame(options.settings ?? [])]));
  return { sink, connection, streams };
}

const request_headers = encodeHeaders([
  [":method", "POST"],
  [":scheme", "http"],
  [":path", "/etcdserverpb.KV/Put"],
  [":authority", "127.0.0.1"],
  ["content-type", "application/grpc"],
  ["te", "trailers"],
]);

describe("a request and its answer", () => {
  test("HEADERS + DATA(END_STREAM) reach the stream; respond/write/end send HEADERS, DATA, trailers in one flush", async () => {
    const { sink, connection, streams } = open();
    connection.receive(Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request_headers), frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from("hello"))]));
    expect(streams).toHaveLength(1);
    const { stream, headers, data } = streams[0]!;
    expect(headers[":path"]).toBe("/etcdserverpb.KV/Put");
    expect(headers["te"]).toBe("trailers");
    expect(Buffer.concat(data).toString()).toBe("hello");
    expect(streams[0]!.ended).toBe(true);
    let closed = false;
    stream.on("close", () => (closed = true));
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
    let done = false;
    expect(stream.write(Buffer.from("answer"), () => (done = true))).toBe(true);
    stream.end();
    await tick();
    const sent = sink.frames().filter((f) => f.streamId === 1);
    expect(sent.map((f) => f.type)).toEqual([FrameType.HEADERS, FrameType.DATA, FrameType.HEADERS]);
    const decoder = new HpackDecoder(4096);
    expect(decoder.decode(sent[0]!.payload)).toEqual([[":status", "200"], ["content-type", "application/grpc+proto"]]);
    expect(sent[1]!.payload.toString()).toBe("answer");
    expect(sent[2]!.flags & Flag.END_STREAM).toBe(Flag.END_STREAM);
    expect(decoder.decode(sent[2]!.payload)).toEqual([["grpc-status", "0"]]);
    expect(done).toBe(true);
    expect(closed).toBe(true);
    expect(connection.streams.size).toBe(0);
  });

  test("server SETTINGS first, the client's SETTINGS acknowledged, PING answered", async () => {
    const { sink, connection } = open();
    connection.receive(frame(FrameType.PING, 0, 0, Buffer.from("12345678")));
    await tick();
    const frames = sink.frames();
    expect(frames[0]!.type).toBe(FrameType.SETTINGS);
    expect(frames.some((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK)).toBe(true);
    const pong = frames.find((f) => f.type === FrameType.PING)!;
    expect(pong.flags).toBe(Flag.ACK);
    expect(pong.payload.toString()).toBe("12345678");
  });

  test("a header block split over CONTINUATION frames", () => {
    const { connection, streams } = open();
    connection.receive(Buffer.concat([frame(FrameType.HEADERS, Flag.END_STREAM, 1, request_headers.subarray(0, 10)), frame(FrameType.CONTINUATION, 0, 1, request_headers.subarray(10, 20)), frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, request_headers.subarray(20))]));
    expect(streams[0]!.headers[":path"]).toBe("/etcdserverpb.KV/Put");
    expect(streams[0]!.ended).toBe(true);
  });

  test("streams past SETTINGS_MAX_CONCURRENT_STREAMS are refused with REFUSED_STREAM", async () => {
    const { sink, connection, streams } = open();
    for (let i = 0; i <= default_h2_limits.maxConcurrentStreams; i++) connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS, 2 * i + 1, request_headers));
    await tick();
    expect(streams).toHaveLength(default_h2_limits.maxConcurrentStreams);
    const rst = sink.frames().filter((f) => f.type === FrameType.RST_STREAM);
    expect(rst).toHaveLength(1);
    expect(rst[0]!.payload.readUInt32BE(0)).toBe(ErrorCode.REFUSED_STREAM);
  });
});

describe("malformed frames are connection errors (GOAWAY + close), never a throw", () => {
  const cases: [string, () => Buffer, number][] = [
    ["a frame over the max frame size", () => frame(FrameType.DATA, 0, 1, Buffer.alloc(16_385)), ErrorCode.FRAME_SIZE_ERROR],
    ["SETTINGS of 5 bytes", () => frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(5)), ErrorCode.FRAME_SIZE_ERROR],
    ["SETTINGS on a stream", () => frame(FrameType.SETTINGS, 0, 1, null), ErrorCode.PROTOCOL_ERROR],
    ["MAX_FRAME_SIZE below 16,384", () => settingsFrame([[Setting.MAX_FRAME_SIZE, 100]]), ErrorCode.PROTOCOL_ERROR],
    ["INITIAL_WINDOW_SIZE above 2^31-1", () => settingsFrame([[Setting.INITIAL_WINDOW_SIZE, 2 ** 31]]), ErrorCode.FLOW_CONTROL_ERROR],
    ["PING of 7 bytes", () => frame(FrameType.PING, 0, 0, Buffer.alloc(7)), ErrorCode.FRAME_SIZE_ERROR],
    ["a connection WINDOW_UPDATE of 0", () => windowUpdateFrame(0, 0), ErrorCode.PROTOCOL_ERROR],
    ["a connection window past 2^31-1", () => windowUpdateFrame(0, 2 ** 31 - 1), ErrorCode.FLOW_CONTROL_ERROR],
    ["HEADERS on an even stream", () => frame(FrameType.HEADERS, Flag.END_HEADERS, 2, request_headers), ErrorCode.PROTOCOL_ERROR],
    ["HEADERS on stream 0", () => frame(FrameType.HEADERS, Flag.END_HEADERS, 0, request_headers), ErrorCode.PROTOCOL_ERROR],
    ["CONTINUATION without HEADERS", () => frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, request_headers), ErrorCode.PROTOCOL_ERROR],
    ["another frame inside a header block", () => Buffer.concat([frame(FrameType.HEADERS, 0, 1, request_headers), frame(FrameType.PING, 0, 0, Buffer.alloc(8))]), ErrorCode.PROTOCOL_ERROR],
    ["an undecodable header block", () => frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0xbf])), ErrorCode.COMPRESSION_ERROR],
    ["DATA on an idle stream", () => frame(FrameType.DATA, 0, 7, Buffer.from("x")), ErrorCode.PROTOCOL_ERROR],
    ["DATA on stream 0", () => frame(FrameType.DATA, 0, 0, Buffer.from("x")), ErrorCode.PROTOCOL_ERROR],
    ["padding longer than the frame", () => Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request_headers), frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([9, 1, 2]))]), ErrorCode.PROTOCOL_ERROR],
    ["RST_STREAM of 3 bytes", () => frame(FrameType.RST_STREAM, 0, 1, Buffer.alloc(3)), ErrorCode.FRAME_SIZE_ERROR],
    ["PUSH_PROMISE from a client", () => frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, Buffer.alloc(4)), ErrorCode.PROTOCOL_ERROR],
    ["a header block over the limit", () => Buffer.concat([frame(FrameType.HEADERS, 0, 1, Buffer.alloc(16_000)), ...Array.from({ length: 4 }, () => frame(FrameType.CONTINUATION, 0, 1, Buffer.alloc(16_000)))]), ErrorCode.ENHANCE_YOUR_CALM],
    ["a reused stream id", () => Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, 3, request_headers), frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request_headers)]), ErrorCode.STREAM_CLOSED],
  ];
  for (const [name, bytes, code] of cases) {
    test(name, async () => {
      const { sink, connection } = open();
      expect(() => connection.receive(bytes())).not.toThrow();
      await tick();
      expect(sink.goaway()).toBe(code);
      expect(sink.closed).toBe(true);
      expect(connection.closed).toBe(true);
    });
  }

  test("a stream handler that throws ends its connection (INTERNAL_ERROR) and the error is reported, not thrown", async () => {
    const sink = new FakeSink();
    const reported: unknown[] = [];
    const connection = new H2Connection(sink, () => {
      throw new Error("handler bug");
    }, default_h2_limits, (error) => reported.push(error));
    connection.receive(Buffer.concat([connection_preface, settingsFrame([])]));
    expect(() => connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request_headers))).not.toThrow();
    await tick();
    expect(sink.goaway()).toBe(ErrorCode.INTERNAL_ERROR);
    expect(String(reported[0])).toContain("handler bug");
  });

  test("a wrong preface", async () => {
    const sink = new FakeSink();
    const connection = new H2Connection(sink, () => undefined);
    connection.receive(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await tick();
    expect(sink.goaway()).toBe(ErrorCode.PROTOCOL_ERROR);
    expect(sink.closed).toBe(true);
  });

  test("random bytes after the preface never throw (seeded)", async () => {
    let seed = 14;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 300; round++) {
      const { connection } = open();
      const junk = Buffer.alloc(64, 0).map(() => random());
      // Some rounds look like frame headers of known types with small lengths, to get past the size check.
      if (round % 2 === 0) junk.set([0, 0, junk[2]! & 0x1f, junk[3]! % 10, junk[4]!, 0, 0, 0, junk[8]! & 3], 0);
      expect(() => connection.receive(Buffer.from(junk))).not.toThrow();
    }
    await tick();
  });
});

describe("flow control", () => {
  test("the server sends no more than the peer's stream window, then resumes on WINDOW_UPDATE", async () => {
    const { sink, connection, streams } = open({ settings: [[Setting.INITIAL_WINDOW_SIZE, 100]] });
    connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, request_headers));
    const { stream } = streams[0]!;
    stream.respond({ ":status": 200 });
    let room = true;
    const done: number[] = [];
    for (let i = 0; i < 100 && room; i++) room = stream.write(Buffer.alloc(1000, i), () => done.push(i));
    expect(room).toBe(false);
    await tick();
    const dataBytes = () => sink.frames().filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + f.payload.length, 0);
    expect(dataBytes()).toBe(100);
    expect(done).toEqual([]);
    connection.receive(windowUpdateFrame(1, 2_000));
    await tick();
    expect(dataBytes()).toBe(2_100);
    expect(done).toEqual([0, 1]);
  });

  test("a sink that takes nothing: the server stops moving DATA to it (bounded), and a PING flood ends the connection", async () => {
    // The peer's windows are as large as can be (grpc-go grows its windows to many MiB): only the socket bounds the server.
    const { sink, connection, streams } = open({ accept: 0, settings: [[Setting.INITIAL_WINDOW_SIZE, 2 ** 31 - 1]] });
    connection.receive(windowUpdateFrame(0, 2 ** 31 - 1 - 65_535));
    connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, request_headers));
    const { stream } = streams[0]!;
    stream.respond({ ":status": 200 });
    let calls = 0;
    // A writer that ignores write()'s false: the stream holds what it was given, the connection caps what it moves.
    for (let i = 0; i < 200; i++) stream.write(Buffer.alloc(16_000), () => calls++);
    await tick();
    for (let i = 0; i < 5; i++) connection.drain();
    expect(sink.offered).toBeLessThanOrEqual(default_h2_limits.socketHighWater + 16_384 + 1_024);
    expect(calls).toBeLessThan(20);
    const ping = frame(FrameType.PING, 0, 0, Buffer.alloc(8));
    for (let i = 0; i < 300_000 && !connection.closed; i++) connection.receive(ping);
    expect(connection.closed).toBe(true);
  });

  test("a sink that takes a few bytes per write: every frame arrives whole and in order while more are queued", async () => {
    // What the sink did not take is kept apart from the output buffer, which the next frames reuse.
    const { sink, connection, streams } = open({ accept: 7 });
    connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, request_headers));
    const { stream } = streams[0]!;
    stream.respond({ ":status": 200 });
    const sent: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const chunk = Buffer.alloc(50 + i, 65 + i);
      sent.push(chunk);
      stream.write(chunk);
      await tick();
      connection.drain();
    }
    for (let i = 0; i < 1_000 && sink.taken.reduce((n, b) => n + b.length, 0) < 2_000; i++) connection.drain();
    const data = sink.frames().filter((f) => f.type === FrameType.DATA && f.streamId === 1);
    expect(Buffer.concat(data.map((f) => f.payload)).toString("latin1")).toBe(Buffer.concat(sent).toString("latin1"));
  });

  test("a peer sending past our window is a FLOW_CONTROL_ERROR", async () => {
    // Windows are given back as data arrives, so only a frame larger than the whole window can overflow it.
    const { sink, connection } = open({ limits: { ...default_h2_limits, streamWindow: 1_000 } });
    connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request_headers));
    connection.receive(frame(FrameType.DATA, 0, 1, Buffer.alloc(1_001)));
    await tick();
    const rst = sink.frames().find((f) => f.type === FrameType.RST_STREAM && f.streamId === 1);
    expect(rst?.payload.readUInt32BE(0)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
  });

  test("received DATA is given back with WINDOW_UPDATEs (stream and connection)", async () => {
    const { sink, connection } = open();
    connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request_headers));
    const chunk = frame(FrameType.DATA, 0, 1, Buffer.alloc(16_384));
    for (let i = 0; i < 40; i++) connection.receive(chunk);
    await tick();
    const updates = sink.frames().filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1);
    expect(updates.length).toBeGreaterThan(0);
    expect(sink.goaway()).toBe(null);
  });
});

describe("the block cache (block_cache.ts)", () => {
  const literal = (name: string, value: string, first: number) => Buffer.concat([Buffer.from([first, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
  const send = (connection: H2Connection, id: number, block: Uint8Array) => connection.receive(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, block));

  test("the same block again: the same (frozen) headers, decoded once", () => {
    const { connection, streams } = open();
    send(connection, 1, request_headers);
    send(connection, 3, request_headers);
    expect(streams).toHaveLength(2);
    expect(streams[1]!.headers).toEqual(streams[0]!.headers);
    expect(streams[1]!.headers).toBe(streams[0]!.headers);
    expect(Object.isFrozen(streams[0]!.headers)).toBe(true);
  });

  test("a block that refers to the dynamic table decodes anew once the table changed", () => {
    const { sink, connection, streams } = open();
    // Stream 1 adds "x-a: 1" (index 62); stream 3 refers to index 62; stream 5 adds "x-b: 2" (now 62); stream 7 = stream 3's bytes.
    const refers = Buffer.concat([request_headers, Buffer.from([0xbe])]);
    send(connection, 1, Buffer.concat([request_headers, literal("x-a", "1", 0x40)]));
    send(connection, 3, refers);
    send(connection, 5, Buffer.concat([request_headers, literal("x-b", "2", 0x40)]));
    send(connection, 7, refers);
    send(connection, 9, refers);
    expect(sink.goaway()).toBeNull();
    expect(streams.map((s) => [s.headers["x-a"], s.headers["x-b"]])).toEqual([["1", undefined], ["1", undefined], [undefined, "2"], [undefined, "2"], [undefined, "2"]]);
  });

  test("an invalid block is refused every time, cached or not", async () => {
    const { sink, connection, streams } = open();
    const noPath = encodeHeaders([[":method", "POST"], [":scheme", "http"], ["content-type", "application/grpc"]]);
    send(connection, 1, noPath);
    send(connection, 3, noPath);
    await tick();
    expect(streams).toHaveLength(0);
    const resets = sink.frames().filter((f) => f.type === FrameType.RST_STREAM);
    expect(resets.map((f) => [f.streamId, f.payload.readUInt32BE(0)])).toEqual([[1, ErrorCode.PROTOCOL_ERROR], [3, ErrorCode.PROTOCOL_ERROR]]);
  });
});
