// Micro-benchmark: messages/s of small append messages over one transport link (loopback).
// Usage: bun scripts/bench_transport.ts [--messages N] [--payload BYTES] [--entries K] [--in-process]
// The receiver runs in a child process by default (each side gets its own event loop, as in a cluster).
// Bounded: gives up after 20 s. Prints one result line.
import type { Message } from "../src/raft/types.ts";
import { createTransport } from "../src/transport/index.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg("messages", 300_000);
const PAYLOAD = arg("payload", 128);
const ENTRIES = arg("entries", 1);
const LIMIT_MS = 20_000;

async function receiver(total: number, report: (line: string) => void): Promise<{ addr: string; close(): Promise<void> }> {
  let count = 0;
  let first = 0;
  const t = await createTransport({
    nodeId: 2,
    listen: "127.0.0.1:0",
    clusterId: () => "bench",
    isKnownPeer: () => true,
    handlers: {
      onMessage: () => {
        if (count++ === 0) first = performance.now();
        if (count === total) report(`done ${count} ${(performance.now() - first).toFixed(1)}`);
      },
      onSnapshot: async () => {},
      onUnreachable: () => {},
      onFatal: (error) => {
        console.error(`fatal: ${error.message}`);
        process.exit(1);
      },
    },
  });
  return { addr: t.addr, close: () => t.close() };
}

if (process.argv[2] === "--receiver") {
  const r = await receiver(Number(process.argv[3]), (line) => console.log(line));
  console.log(`addr ${r.addr}`);
} else {
  const inProcess = process.argv.includes("--in-process");
  let resolveDone!: (line: string) => void;
  const done = new Promise<string>((r) => (resolveDone = r));
  let addr: string;
  let stop: () => Promise<void>;
  if (inProcess) {
    const r = await receiver(N, resolveDone);
    addr = r.addr;
    stop = r.close;
  } else {
    const child = Bun.spawn([process.execPath, import.meta.path, "--receiver", String(N)], { stdout: "pipe", stderr: "inherit" });
    let resolveAddr!: (a: string) => void;
    const gotAddr = new Promise<string>((r) => (resolveAddr = r));
    void (async () => {
      let buf = "";
      for await (const chunk of child.stdout) {
        buf += new TextDecoder().decode(chunk);
        for (const line of buf.split("\n").slice(0, -1)) {
          if (line.startsWith("addr ")) resolveAddr(line.slice(5));
          if (line.startsWith("done ")) resolveDone(line);
        }
        buf = buf.slice(buf.lastIndexOf("\n") + 1);
      }
    })();
    addr = await gotAddr;
    stop = async () => {
      child.kill(9);
      await child.exited;
    };
  }
  const sender = await createTransport({
    nodeId: 1,
    listen: "127.0.0.1:0",
    clusterId: () => "bench",
    isKnownPeer: () => true,
    handlers: {
      onMessage: () => {},
      onSnapshot: async () => {},
      onUnreachable: () => {},
      onFatal: (error) => {
        console.error(`fatal: ${error.message}`);
        process.exit(1);
      },
    },
  });
  sender.setPeer(2, addr);
  const data = new Uint8Array(PAYLOAD).fill(97);
  const message = (i: number): Message => ({
    type: "append",
    from: 1,
    to: 2,
    term: 3,
    prevIndex: i * ENTRIES,
    prevTerm: 3,
    commit: i * ENTRIES,
    entries: Array.from({ length: ENTRIES }, (_, k) => ({ kind: "normal" as const, index: i * ENTRIES + k + 1, term: 3, data })),
  });
  const started = performance.now();
  let sent = 0;
  // Pace on the queue so nothing is dropped: keep at most ~2000 queued (the queue holds 4096).
  while (sent < N && performance.now() - started < LIMIT_MS) {
    const queued = sender.stats().peers[0]?.queuedMessages ?? 0;
    const room = Math.min(N - sent, 2000 - queued, 512);
    for (let i = 0; i < room; i++) sender.send(message(sent++));
    await new Promise((r) => setImmediate(r));
  }
  const result = await Promise.race([done, Bun.sleep(Math.max(0, LIMIT_MS - (performance.now() - started))).then(() => "timeout")]);
  const elapsed = performance.now() - started;
  const dropped = sender.stats().peers[0]?.droppedMessages ?? 0;
  await sender.close();
  await stop();
  if (result === "timeout") {
    console.log(`bench_transport: timed out after ${LIMIT_MS} ms (${sent} sent, dropped ${dropped})`);
    process.exit(1);
  }
  const frameBytes = 80 + ENTRIES * (PAYLOAD + 30);
  console.log(
    `bench_transport: ${N} append messages (${ENTRIES} x ${PAYLOAD} B entries, ~${frameBytes} B frames), ${inProcess ? "in-process" : "receiver in a child process"}: ` +
      `${(N / (elapsed / 1000)).toFixed(0)} msg/s (${elapsed.toFixed(0)} ms), dropped ${dropped}`,
  );
}
