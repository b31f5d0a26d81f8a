// A broken invariant on the network path is fatal (issue 10, item 7): an exception inside the node's handler
// of a well-formed peer message (here a planted throw in RaftCore.step) must not be logged and dropped by the
// transport, leaving a half-updated core running: the node logs it, stops, and its process exits non-zero.
// (Malformed frames only close their connection: test/integration/raft_port_garbage.test.ts.)
import { afterEach, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { Launcher, waitFor } from "../../src/cli/launcher/index.ts";
import { createTransport, type QklzlTransport } from "../../src/transport/index.ts";

const fixture = path.join(import.meta.dir, "fixtures", "planted_step_throw.ts");
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

test("a handler that throws on a peer's message stops the node: exit non-zero, one clear fatal line", async () => {
  // One node of the fixture program (the CLI with a planted throw), through the one launcher; output in its log.
  const launcher = new Launcher({ size: 1, name: "fatal", command: [process.execPath, fixture], env: { NO_COLOR: "1" } });
  cleanups.push(() => launcher.destroy());
  const { raftAddr, httpAddr, dataDir, logPath } = launcher.node(1);
  const child = (await launcher.spawn(1, ["start", "--id", "1", "--data-dir", dataDir, "--bootstrap",
    "--raft-addr", raftAddr, "--http-addr", httpAddr, "--heartbeat-ms", "50", "--election-ms", "300"])).proc!;
  await waitFor(async () => (await launcher.status(1))?.is_leader === true, { deadlineMs: 15_000, what: "node 1 leads" });
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
  const output = { text: fs.readFileSync(logPath, "utf8") };
  expect({ exited, output: output.text }).toMatchObject({ exited: expect.any(Number) });
  if (process.env.SHOW_OUTPUT) console.log(output.text);
  expect(exited).not.toBe(0);
  expect(output.text).toContain("fatal: onMessage threw on a heartbeat_resp from node 99: planted: step of a heartbeat_resp from node 99; stopping");
}, 40_000);
