import { afterEach, describe, expect, test } from "bun:test";
import type { Message } from "../../src/raft/types.ts";
import { mesh, startNode, waitFor, type TestNode } from "./helpers.ts";

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

function everyMessage(from: number, to: number): Message[] {
  const e = { from, to, term: 7 };
  const members = [
    { id: 1, role: "voter" as const, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" },
    { id: 2, role: "learner" as const, raftAddr: "[::1]:3", httpAddr: "h:4" },
  ];
  return [
    { ...e, type: "pre_vote", lastIndex: 10, lastTerm: 6 },
    { ...e, type: "pre_vote_resp", reject: true },
    { ...e, type: "vote", lastIndex: 11, lastTerm: 6, transfer: true },
    { ...e, type: "vote_resp", reject: false },
    {
      ...e,
      type: "append",
      prevIndex: 4,
      prevTerm: 3,
      commit: 4,
      entries: [
        { kind: "normal", index: 5, term: 7, data: new Uint8Array([0, 1, 2, 255]) },
        { kind: "normal", index: 6, term: 7, data: new Uint8Array(0) },
        { kind: "noop", index: 7, term: 7 },
        { kind: "conf", index: 8, term: 7, change: { type: "add_learner", id: 3, raftAddr: "a:1", httpAddr: "b:2" } },
      ],
    },
    { ...e, type: "append", prevIndex: 0, prevTerm: 0, commit: 0, entries: [] },
    { ...e, type: "append_resp", index: 9, reject: true, hintIndex: 3, hintTerm: 2 },
    { ...e, type: "heartbeat", commit: 12, ctx: "read-ctx-1" },
    { ...e, type: "heartbeat_resp", ctx: "" },
    { ...e, type: "snapshot", snapshot: { index: 100, term: 5, conf: { members } } },
    { ...e, type: "timeout_now" },
    { ...e, type: "read_index", ctx: "abc" },
    { ...e, type: "read_index_resp", ctx: "abc", index: -1 },
  ];
}

describe("transport round trip", () => {
  test("every Message type arrives equal, in order, both directions", async () => {
    const a = await startNode(1);
    const b = await startNode(2);
    nodes.push(a, b);
    mesh([a, b]);
    const ab = everyMessage(1, 2);
    const ba = everyMessage(2, 1);
    expect(new Set(ab.map((m) => m.type)).size).toBe(12); // every variant of Message
    for (const m of ab) a.transport.send(m);
    for (const m of ba) b.transport.send(m);
    await waitFor(() => b.rec.messages.length === ab.length && a.rec.messages.length === ba.length, "all messages");
    expect(b.rec.messages).toEqual(ab);
    expect(a.rec.messages).toEqual(ba);
    const append = b.rec.messages[4] as Message & { type: "append" };
    const first = append.entries[0] as { data: Uint8Array };
    expect(first.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(first.data)).toEqual([0, 1, 2, 255]);
  });

  test("three transports: each pair exchanges messages on its own links", async () => {
    const ns = [await startNode(1), await startNode(2), await startNode(3)];
    nodes.push(...ns);
    mesh(ns);
    for (const a of ns) for (const b of ns) if (a !== b) for (let i = 0; i < 100; i++) a.transport.send({ type: "heartbeat", from: a.id, to: b.id, term: 1, commit: i, ctx: "" });
    await waitFor(() => ns.every((n) => n.rec.messages.length === 200), "200 messages at each node");
    for (const n of ns) {
      for (const other of ns) {
        if (other === n) continue;
        const commits = n.rec.messages.filter((m) => m.from === other.id).map((m) => (m as { commit: number }).commit);
        expect(commits).toEqual([...Array(100).keys()]); // in order, none lost, none duplicated
      }
    }
  });

  test("messages to an unknown peer are dropped, not queued", async () => {
    const a = await startNode(1);
    nodes.push(a);
    a.transport.send({ type: "timeout_now", from: 1, to: 9, term: 1 });
    expect(a.transport.stats().droppedUnknownPeer).toBe(1);
    expect(a.transport.stats().peers).toEqual([]);
  });
});

test("a throwing onMessage is fatal: onFatal gets it once, nothing more is delivered", async () => {
  // The peer's frame was fine; the node's own handler broke (perhaps half-way through a step). Logging and
  // carrying on would run a core with a broken invariant.
  const a = await startNode(1);
  const b = await startNode(2);
  nodes.push(a, b);
  mesh([a, b]);
  const rec = b.rec.messages;
  const push = rec.push.bind(rec);
  let calls = 0;
  rec.push = (...items) => {
    calls++;
    if (calls === 1) throw new Error("handler bug");
    return push(...items);
  };
  for (let i = 0; i < 3; i++) a.transport.send({ type: "heartbeat", from: 1, to: 2, term: 1, commit: i, ctx: "" });
  await waitFor(() => b.rec.fatal.length === 1, "onFatal");
  expect(b.rec.fatal[0]!.message).toBe("onMessage threw on a heartbeat from node 1: handler bug");
  expect((b.rec.fatal[0]!.cause as Error).message).toBe("handler bug");
  // Later messages, on this connection or a new one, are not delivered any more; onFatal is not called again.
  for (let i = 3; i < 6; i++) a.transport.send({ type: "heartbeat", from: 1, to: 2, term: 1, commit: i, ctx: "" });
  await Bun.sleep(300);
  expect(calls).toBe(1);
  expect(rec).toEqual([]);
  expect(b.rec.fatal.length).toBe(1);
});
