import { afterEach, expect, test } from "bun:test";
import type { Message, NodeId } from "../../src/raft/types.ts";
import { createTransport, type QklzlTransport } from "../../src/transport/index.ts";
import { heartbeat, waitFor } from "./helpers.ts";

// The peer handshake carries the dialer's data-dir incarnation; the acceptor refuses a connection (and, on a
// link already open, the next message) from a member whose recorded incarnation differs: a wiped node under
// an old id delivers no vote and no ack.

const open: QklzlTransport[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

async function node(id: NodeId, incarnation: string, expected?: Map<NodeId, string>): Promise<{ t: QklzlTransport; got: Message[] }> {
  const got: Message[] = [];
  const t = await createTransport({
    nodeId: id,
    listen: "127.0.0.1:0",
    clusterId: () => "c1",
    isKnownPeer: () => true,
    incarnation,
    incarnationProblem: (from, inc) => {
      const want = expected?.get(from);
      return want === undefined || want === inc ? null : `node ${from} is incarnation ${inc}, expected ${want}`;
    },
    tuning: { backoffMinMs: 10, backoffMaxMs: 100, unreachableIntervalMs: 50 },
    handlers: { onMessage: (m) => got.push(m), onSnapshot: async () => {}, onUnreachable: () => {}, onFatal: () => {} },
  });
  open.push(t);
  return { t, got };
}

test("a connection from another incarnation of a member is refused: nothing is delivered", async () => {
  const b = await node(2, "b-1", new Map([[1, "a-1"]]));
  const wiped = await node(1, "a-2");
  wiped.t.setPeer(2, b.t.addr);
  for (let i = 1; i <= 5; i++) wiped.t.send(heartbeat(1, 2, i));
  await waitFor(() => b.t.stats().refused > 0, "the refusal");
  await Bun.sleep(200);
  expect(b.got).toEqual([]);
});

test("the member's own incarnation is accepted; once the configuration records another, its next message is refused", async () => {
  const expected = new Map([[1, "a-1"]]);
  const b = await node(2, "b-1", expected);
  const a = await node(1, "a-1");
  a.t.setPeer(2, b.t.addr);
  a.t.send(heartbeat(1, 2, 1));
  await waitFor(() => b.got.length === 1, "the first heartbeat");
  expected.set(1, "a-9");
  a.t.send(heartbeat(1, 2, 2));
  await waitFor(() => b.t.stats().refused > 0, "the refusal on the open link");
  await Bun.sleep(200);
  expect(b.got.map((m) => (m as { commit: number }).commit)).toEqual([1]);
});

test("incarnations survive the wire: in the hello, in conf-change entries and in a snapshot's configuration", async () => {
  const { parseFrame } = await import("../../src/transport/wire.ts");
  expect(parseFrame({ t: "hello", v: 1, cluster: "c1", from: 1, to: 2, kind: "raft", inc: "a-1" })).toMatchObject({ inc: "a-1" });
  const change = { type: "add_learner", id: 4, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2", incarnation: "d-1" };
  const append = { type: "append", from: 1, to: 2, term: 3, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ kind: "conf", index: 1, term: 3, change }] };
  expect(parseFrame({ t: "m", m: append })).toEqual({ t: "m", m: append as unknown as Message });
  const members = [{ id: 4, role: "learner", raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2", incarnation: "d-1" }];
  const snapshot = { type: "snapshot", from: 1, to: 2, term: 3, snapshot: { index: 9, term: 3, conf: { members } } };
  expect(parseFrame({ t: "m", m: snapshot })).toEqual({ t: "m", m: snapshot as unknown as Message });
});
