// A broken invariant on the network path is fatal (issue 10, item 7): an exception inside the node's handler
// of a well-formed peer message (here a planted throw in RaftCore.step) must not be logged and dropped by the
// transport, leaving a half-updated core running: the node logs it, stops, and its process exits non-zero.
// (Malformed frames only close their connection: test/integration/raft_port_garbage.test.ts.)
import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../../scenarios/harness.ts";
import { createTransport, type QklzlTransport } from "../../src/transport/index.ts";

const fixture = path.join(import.meta.dir, "fixtures", "planted_step_throw.ts");
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** collect appends everything a child's stream says to out.text. */
async function collect(stream: ReadableStream<Uint8Array>, out: { text: string }): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) out.text += decoder.decode(chunk, { stream: true });
}

async function waitUntil<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await Bun.sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

test("a handler that throws on a peer's message stops the node: exit non-zero, one clear fatal line", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qklzl-fatal-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const raftAddr = `127.0.0.1:${freePort()}`;
  const httpAddr = `127.0.0.1:${freePort()}`;
  const child = Bun.spawn(
    [process.execPath, fixture, "start", "--id", "1", "--data-dir", path.join(dir, "n1"), "--bootstrap",
      "--raft-addr", raftAddr, "--http-addr", httpAddr, "--heartbeat-ms", "50", "--election-ms", "300"],
    { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } },
  );
  cleanups.push(() => {
    child.kill("SIGKILL");
  });
  const output = { text: "" };
  void collect(child.stdout, output);
  void collect(child.stderr, output);
  await waitUntil(
    "node 1 leads",
    async () => {
      const status = await fetch(`http://${httpAddr}/status`).then((r) => r.json() as Promise<{ is_leader: boolean }>, () => null);
      return status?.is_leader === true ? true : undefined;
    },
    15_000,
  );
  expect(child.exitCode).toBeNull();

  // A well-formed message from "node 99" through the real transport: the planted step throws on it.
  const peer: QklzlTransport = await createTransport({
    nodeId: 99,
    listen: "127.0.0.1:0",
    clusterId: () => null,
    isKnownPeer: () => true,
    handlers: { onMessage: () => {}, onSnapshot: async () => {}, onUnreachable: () => {}, onFatal: () => {} },
  });
  cleanups.push(() => peer.close());
  peer.setPeer(1, raftAddr);
  peer.send({ type: "heartbeat_resp", from: 99, to: 1, term: 0, ctx: "" });

  const exited = await Promise.race([child.exited, Bun.sleep(10_000).then(() => null)]);
  expect({ exited, output: output.text }).toMatchObject({ exited: expect.any(Number) });
  if (process.env.SHOW_OUTPUT) console.log(output.text);
  expect(exited).not.toBe(0);
  expect(output.text).toContain("fatal: onMessage threw on a heartbeat_resp from node 99: planted: step of a heartbeat_resp from node 99; stopping");
}, 40_000);
