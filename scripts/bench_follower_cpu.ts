#!/usr/bin/env bun
// CPU per put of the follower's own JS work, measured in one process (process.cpuUsage), so that it holds on a
// loaded machine where a cluster A/B does not: the leader's append frames (AppendEncoder, ENTRIES puts of
// 100 B values over 10,000 keys each) decoded as a follower's inbound connection does, every entry applied to a
// KvStateMachine, and one ack per frame encoded (follower) and decoded (leader). No sockets, WAL or fsync.
// usage: bun scripts/bench_follower_cpu.ts [SRC_DIR] [ENTRIES]; SRC_DIR is a checkout's src/ (default this one)
// so that two versions can be compared A B A B.
const src = process.argv[2] ?? `${import.meta.dir}/../src`;
const perFrame = Number(process.argv[3] ?? "8");
const { AppendEncoder } = await import(`${src}/transport/append_codec.ts`);
const frameMod = await import(`${src}/transport/frame.ts`);
const { parseFrame } = await import(`${src}/transport/wire.ts`);
const { encodeCommand } = await import(`${src}/kv/command.ts`);
const { KvStateMachine } = await import(`${src}/kv/state_machine.ts`);
const appendDecode = await import(`${src}/transport/append_decode.ts`).catch(() => null);
const ackCodec = await import(`${src}/transport/ack_codec.ts`).catch(() => null);

const MAX = 64 * 1024 * 1024;
const value = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(3).slice(0, 100);
const frames = 4000;
const enc = new AppendEncoder();
let index = 1;
const bodies: Uint8Array[] = [];
let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 10000;
for (let f = 0; f < frames; f++) {
  const first = index;
  const entries = [];
  for (let i = 0; i < perFrame; i++) entries.push({ kind: "normal", index: index++, term: 2, data: encodeCommand({ op: "put", key: `bench-key-${String(rand()).padStart(8, "0")}`, value }).slice() });
  bodies.push(enc.encode({ type: "append", from: 1, to: 2, term: 2, prevIndex: first - 1, prevTerm: 2, entries, commit: first - 1 }, MAX).slice());
}
// The inbound decode as each version's InboundConn does it (the frame body after its length prefix).
// (A version without decodeFrameBody gets the whole frame through one long-lived FrameDecoder, as InboundConn.)
const decoder = new frameMod.FrameDecoder(MAX);
const decodeFramed = (framed: Uint8Array): unknown => (frameMod.decodeFrameBody ? frameMod.decodeFrameBody(framed.subarray(4)) : decoder.push(framed)[0]);
const inbound = (framed: Uint8Array) => appendDecode?.decodeAppendFrame(framed.subarray(4)) ?? ackCodec?.decodeAck(framed.subarray(4)) ?? parseFrame(decodeFramed(framed));
const encodeAck = (m: unknown) => ackCodec?.encodeAck(m, MAX) ?? frameMod.encodeFrame({ t: "m", m }, MAX);

function run(): number {
  const sm = new KvStateMachine();
  const c0 = process.cpuUsage();
  for (const framed of bodies) {
    const frame = inbound(framed);
    const m = frame.m;
    for (const e of m.entries) sm.applyEntry(e.index, e.data);
    const ack = encodeAck({ type: "append_resp", from: 2, to: 1, term: 2, index: m.entries.at(-1).index, reject: false, hintIndex: 0, hintTerm: 0 });
    inbound(ack);
  }
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / (frames * perFrame);
}
run(); // warm-up (JIT)
const results = Array.from({ length: 7 }, run).sort((a, b) => a - b);
console.log(`${src} entries/frame=${perFrame} ns_cpu_per_put min=${Math.round(results[0]!)} median=${Math.round(results[3]!)}`);
