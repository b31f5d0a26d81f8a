import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fillGrpc } from "../../src/cli/bench/grpc_load.ts";
import { requestBlock, runRawGrpcLoad } from "../../src/cli/bench/grpc_raw_load.ts";
import { putFrame } from "../../src/cli/bench/grpc_wire.ts";
import { type Exchange, H2ClientConnection } from "../../src/cli/bench/h2_client.ts";
import { freePort } from "../../src/cli/launcher/index.ts";
import { default_h2_limits, type H2Stream, listenH2 } from "../../src/node/grpc/h2/index.ts";
import { encodePutResponse } from "../../src/node/grpc/put_codec.ts";
import { TestCluster } from "../node/harness.ts";

// The gRPC bench's lean HTTP/2 client (src/cli/bench/h2_client.ts, grpc_raw_load.ts): against a qklzl node's
// gRPC endpoint in process (answers checked, wrong answers counted as errors), against an HTTP/2 server with the
// smallest windows (the client must wait for WINDOW_UPDATEs), and against a real etcd (Go's HTTP/2: HPACK with
// the dynamic table and Huffman, BDP pings) where one is installed.

const load = { clients: 16, connections: 2, keys: 200, valueSize: 100, durationMs: 600 };

describe("against a qklzl node", () => {
  const cluster = new TestCluster();
  let addr = "";
  beforeAll(async () => {
    await cluster.bootstrap(1, { grpcAddr: "127.0.0.1:0" });
    addr = cluster.node(1).grpcAddr!;
  });
  afterAll(() => cluster.close());

  test("ranges of keys not there yet are errors, not samples", async () => {
    const r = await runRawGrpcLoad({ addr, op: "range", ...load, durationMs: 200 });
    expect(r.ops).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
    expect(r.firstError).toContain("range found 0 keys");
  });

  test("puts, then linearizable ranges: every answer checked, no errors, revisions rising", async () => {
    const put = await runRawGrpcLoad({ addr, op: "put", ...load });
    expect(put.errors).toBe(0);
    expect(put.ops).toBeGreaterThan(50);
    expect(put.lastRevision).toBeGreaterThanOrEqual(put.ops);
    expect(put.latencyMs.p50).toBeGreaterThan(0);
    expect(put.latencyMs.p99).toBeGreaterThanOrEqual(put.latencyMs.p50);
    await fillGrpc(addr, load.keys, load.valueSize);
    const range = await runRawGrpcLoad({ addr, op: "range", ...load });
    expect(range.firstError).toBeNull();
    expect(range.ops).toBeGreaterThan(50);
    expect(range.lastRevision).toBeGreaterThanOrEqual(put.lastRevision + load.keys);
  });

  test("an unknown method: the exchange carries grpc-status 12 (UNIMPLEMENTED)", async () => {
    const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
    const connection = await H2ClientConnection.connect(host, port);
    try {
      const exchange = await new Promise<Exchange>((resolve, reject) =>
        connection.request(requestBlock("/etcdserverpb.KV/Nothing", addr), putFrame("k", new Uint8Array(1)), (why, e) => (why === null ? resolve(e) : reject(new Error(why)))),
      );
      expect(exchange.status).toBe("200");
      expect(exchange.grpcStatus).toBe("12");
      expect(exchange.data).toBeNull();
    } finally {
      connection.close();
    }
  });
});

describe("flow control", () => {
  test("requests larger than the server's windows wait for its WINDOW_UPDATEs, and all are answered", async () => {
    const answer = encodePutResponse({ header: { cluster_id: "1", member_id: "2", revision: 7, raft_term: 1 } }, 5)!;
    let received = 0;
    const server = listenH2({
      host: "127.0.0.1",
      port: 0,
      // The smallest windows RFC 9113 allows for the connection; streams get just one request each.
      limits: { ...default_h2_limits, connectionWindow: 65_535, streamWindow: 16_384 },
      onStream: (stream: H2Stream) => {
        stream.on("data", (chunk: Buffer) => (received += chunk.length));
        stream.on("end", () => {
          stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
          stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
          stream.write(answer);
          stream.end();
        });
      },
    });
    try {
      // 16 calls of ~16 KB in flight: 256 KB, four times the connection window.
      const r = await runRawGrpcLoad({ addr: `127.0.0.1:${server.port}`, op: "put", clients: 16, connections: 1, keys: 4, valueSize: 16_000, durationMs: 500 });
      expect(r.firstError).toBeNull();
      expect(r.ops).toBeGreaterThan(16);
      expect(received).toBeGreaterThanOrEqual(r.ops * 16_000);
      expect(r.lastRevision).toBe(7);
    } finally {
      server.stopListening();
      for (const connection of server.connections) connection.destroy();
    }
  });
});

const etcd = Bun.which("etcd");
if (etcd === null) console.warn("SKIP h2_client against etcd: etcd is not on PATH (apt-get install etcd-server)");

describe.skipIf(etcd === null)("against a real etcd (Go's HTTP/2)", () => {
  const dir = join(tmpdir(), `qklzl-h2client-etcd-${process.pid}`);
  const client = `127.0.0.1:${freePort()}`;
  const peer = `127.0.0.1:${freePort()}`;
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  beforeAll(async () => {
    proc = Bun.spawn([etcd!, "--data-dir", dir, "--listen-client-urls", `http://${client}`, "--advertise-client-urls", `http://${client}`, "--listen-peer-urls", `http://${peer}`, "--initial-advertise-peer-urls", `http://${peer}`, "--initial-cluster", `default=http://${peer}`], { stdout: "ignore", stderr: "ignore" });
    // Ready when a put is answered.
    for (let attempt = 0; ; attempt++) {
      try {
        await fillGrpc(client, 1, 1);
        return;
      } catch (error) {
        if (attempt > 100) throw error;
        await Bun.sleep(100);
      }
    }
  }, 30_000);
  afterAll(async () => {
    proc?.kill();
    await proc?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test("puts and linearizable ranges: every answer checked, no errors", async () => {
    const put = await runRawGrpcLoad({ addr: client, op: "put", ...load });
    expect(put.firstError).toBeNull();
    expect(put.ops).toBeGreaterThan(50);
    await fillGrpc(client, load.keys, load.valueSize);
    const range = await runRawGrpcLoad({ addr: client, op: "range", ...load });
    expect(range.firstError).toBeNull();
    expect(range.ops).toBeGreaterThan(50);
    expect(range.lastRevision).toBeGreaterThan(put.lastRevision);
  }, 30_000);
});
