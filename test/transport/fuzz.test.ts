import { afterEach, expect, test } from "bun:test";
import { encodeFrame } from "../../src/transport/frame.ts";
import { parseMessage } from "../../src/transport/wire.ts";
import { heartbeat, mesh, startNode, waitFor, type TestNode } from "./helpers.ts";
import { closedWithin, hello, rawConnect } from "./raw.ts";

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

test("bit-flipped protocol streams (seeded) never break the transport or deliver malformed messages", async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);
  console.log(`fuzz seed ${seed} (replay: FUZZ_SEED=${seed})`);
  const r = rng(seed);
  const [a, b] = [await startNode(1), await startNode(2)];
  nodes.push(a, b);
  mesh([a, b]);
  const valid = [
    encodeFrame(hello(1, 2), 1 << 20),
    ...Array.from({ length: 5 }, (_, i) =>
      encodeFrame({ t: "m", m: { type: "append", from: 1, to: 2, term: 1, prevIndex: i, prevTerm: 1, commit: i, entries: [{ kind: "normal", index: i + 1, term: 1, data: new Uint8Array([i]) }] } }, 1 << 20),
    ),
  ];
  const stream = new Uint8Array(valid.reduce((n, f) => n + f.length, 0));
  let off = 0;
  for (const f of valid) {
    stream.set(f, off);
    off += f.length;
  }
  for (let round = 0; round < 60; round++) {
    const bytes = stream.slice();
    const flips = 1 + r(4);
    for (let i = 0; i < flips; i++) bytes[r(bytes.length)]! ^= 1 << r(8);
    const raw = await rawConnect(b.transport.addr);
    for (let pos = 0; pos < bytes.length; ) {
      const n = 1 + r(40);
      raw.write(bytes.subarray(pos, pos + n));
      pos += n;
    }
    await closedWithin(raw, 20);
    raw.socket.end();
  }
  // Whatever got through is a well-formed message from node 1 to node 2.
  for (const m of b.rec.messages) {
    expect(parseMessage(m)).toEqual(m);
    expect(m.from).toBe(1);
    expect(m.to).toBe(2);
  }
  const before = b.rec.messages.length;
  a.transport.send(heartbeat(1, 2, 4242));
  await waitFor(() => b.rec.messages.length > before, "a real message after the fuzzing");
  await waitFor(() => b.transport.stats().inboundConnections <= 2, "fuzz connections closed");
}, 30_000);
