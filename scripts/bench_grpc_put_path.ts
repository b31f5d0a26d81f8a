#!/usr/bin/env bun
// The leader's gRPC KV.Put path without sockets, a client or other processes: for each source tree given, a child
// process builds the endpoint as the node does (grpcStreamHandler over node_backend.ts and the auth gate, on the
// NodeApi stub of src/cli/bench/node_api_stub.ts) behind one H2Connection of that tree, and feeds it prebuilt
// bytes: per round a WINDOW_UPDATE for what it sent and 64 calls (HEADERS + DATA with END_STREAM each, 100-byte values, keys rotating over 1,024), then
// waits for the round's answers (one apply pass, the answers flushed to a sink that takes everything). Every
// round must be answered in full (64 trailers with END_STREAM). Reported: CPU per call of the whole process,
// which is the endpoint's cost from frames in to frames out (the byte feed is ~0.1 µs per call in every tree).
// No syscalls, no scheduler: steadier than the socket benchmarks, so a ~0.3 µs change shows. Alternate the trees
// (A B B A). A tree needs server.ts's grpcStreamHandler. Usage: bun scripts/bench_grpc_put_path.ts TREE_A TREE_B [...]
import { loadavg } from "node:os";
import { join } from "node:path";

const here = join(import.meta.dir, "..");
const calls_per_round = 64;
const key_count = 1_024;

function frameHeader(out: Buffer, at: number, length: number, type: number, flags: number, streamId: number): void {
  out[at] = (length >>> 16) & 0xff;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId, at + 5);
}

async function child(root: string, seconds: number): Promise<void> {
  const { grpcStreamHandler } = await import(join(root, "src/node/grpc/server.ts"));
  const { H2Connection } = await import(join(root, "src/node/grpc/h2/index.ts"));
  const { createNodeBackend } = await import(join(root, "src/node/grpc/node_backend.ts"));
  const { scopedBackend } = await import(join(root, "src/node/grpc/auth_gate.ts"));
  const { nodeApiStub } = await import(join(here, "src/cli/bench/node_api_stub.ts"));
  const { putFrame } = await import(join(here, "src/cli/bench/grpc_wire.ts"));
  const { requestBlock } = await import(join(here, "src/cli/bench/grpc_raw_load.ts"));
  const api = nodeApiStub();
  const make = (scoped: unknown) => createNodeBackend(scoped, { grpcAddr: "127.0.0.1:2379", requestTimeoutMs: 5_000 });
  // As src/node/grpc/index.ts builds it for a node with auth (off): every call passes the gate and the scoping.
  const backend = { ...scopedBackend(api, api.auth, make), auth: api.auth };
  let answered = 0;
  /** dataBytes: DATA payload the endpoint sent since the last WINDOW_UPDATE we gave back (its connection window). */
  let dataBytes = 0;
  const sink = {
    write(bytes: Uint8Array): number {
      // Count the trailers: HEADERS frames with END_STREAM (every answer ends with one).
      for (let at = 0; at + 9 <= bytes.length; ) {
        const length = (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
        if (bytes[at + 3] === 0x1 && (bytes[at + 4]! & 0x1) !== 0) answered++;
        if (bytes[at + 3] === 0x0) dataBytes += length;
        at += 9 + length;
      }
      return bytes.length;
    },
    close() {},
    remoteAddress: "127.0.0.1",
    remotePort: 1,
  };
  const connection = new H2Connection(sink, grpcStreamHandler(backend, 1 << 20));
  connection.receive(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0])]));
  const block = requestBlock("/etcdserverpb.KV/Put", "127.0.0.1:2379");
  const value = new Uint8Array(100).fill(0x76);
  const bodies = Array.from({ length: key_count }, (_, i) => putFrame(`key${String(i).padStart(8, "0")}`, value));
  // One buffer per round template (keys i*64 .. i*64+63); only the stream ids are patched per round.
  const templates = Array.from({ length: key_count / calls_per_round }, (_, t) => {
    const parts = bodies.slice(t * calls_per_round, (t + 1) * calls_per_round);
    const size = parts.reduce((n, body) => n + 18 + block.length + body.length, 0);
    const out = Buffer.alloc(size);
    const idAt: number[] = [];
    let at = 0;
    for (const body of parts) {
      frameHeader(out, at, block.length, 0x1, 0x4, 1);
      idAt.push(at + 5);
      out.set(block, at + 9);
      at += 9 + block.length;
      frameHeader(out, at, body.length, 0x0, 0x1, 1);
      idAt.push(at + 5);
      out.set(body, at + 9);
      at += 9 + body.length;
    }
    return { out, idAt };
  });
  let nextId = 1;
  let round = 0;
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const runRound = async () => {
    const { out, idAt } = templates[round++ % templates.length]!;
    for (let i = 0; i < idAt.length; i += 2) {
      out.writeUInt32BE(nextId, idAt[i]!);
      out.writeUInt32BE(nextId, idAt[i + 1]!);
      nextId += 2;
    }
    const before = answered;
    if (dataBytes > 0) {
      // The connection's send window is given back as a client does (each stream starts with a fresh one).
      const update = Buffer.alloc(13);
      frameHeader(update, 0, 4, 0x8, 0, 0);
      update.writeUInt32BE(dataBytes, 9);
      dataBytes = 0;
      connection.receive(update);
    }
    connection.receive(out);
    // The stub applies in a setImmediate; the answers' chains and the flush run in the microtasks after it.
    for (let spins = 0; answered - before < calls_per_round; spins++) {
      if (spins > 1_000) throw new Error(`round ${round}: ${answered - before} of ${calls_per_round} answered`);
      await turn();
    }
  };
  const warmEnd = performance.now() + 2_000;
  while (performance.now() < warmEnd) await runRound();
  const started = performance.now();
  const cpu = process.cpuUsage();
  let calls = 0;
  while (performance.now() - started < seconds * 1000) {
    await runRound();
    calls += calls_per_round;
  }
  const used = process.cpuUsage(cpu);
  if (connection.streams.size !== 0) throw new Error(`${connection.streams.size} streams left open`);
  console.log(`${root}: ${((calls * 1000) / (performance.now() - started)).toFixed(0)} calls/s; ${((used.user + used.system) / calls).toFixed(2)} µs CPU per call; load ${loadavg()[0]!.toFixed(1)}`);
}

const args = process.argv.slice(2);
if (args[0] === "--child") await child(args[1]!, Number(args[2]));
else {
  if (args.length === 0) throw new Error("usage: bun scripts/bench_grpc_put_path.ts TREE_A TREE_B [...]");
  const seconds = process.env.BENCH_DURATION ?? "6";
  for (const root of args) {
    const run = Bun.spawnSync([process.execPath, import.meta.path, "--child", root, seconds], { stdout: "inherit", stderr: "inherit", timeout: (Number(seconds) + 30) * 1000 });
    if (run.exitCode !== 0) throw new Error(`the run of ${root} failed (exit ${run.exitCode})`);
  }
}
