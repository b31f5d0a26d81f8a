import { afterEach, expect, test } from "bun:test";
import { heartbeat, startNode, waitFor, type TestNode } from "../transport/helpers.ts";
import { LinkProxy } from "./link_proxy.ts";

// The partition tests are only as good as their cuts: two real transports, each behind the link proxy, must see
// a one-way cut drop exactly one direction, and a healed link deliver again through a reconnect.

const nodes: TestNode[] = [];
const proxies: LinkProxy[] = [];
afterEach(async () => {
  for (const proxy of proxies.splice(0)) proxy.close();
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
});

function commits(node: TestNode, from: number): number[] {
  return node.rec.messages.filter((m) => m.from === from && m.type === "heartbeat").map((m) => (m as { commit: number }).commit);
}

test("a one-way cut drops a's messages to b while b's reach a; healing resets the connection and delivery resumes", async () => {
  const a = await startNode(1, { tuning: { queueAgeMaxMs: 60_000 } });
  const b = await startNode(2, { tuning: { queueAgeMaxMs: 60_000 } });
  nodes.push(a, b);
  const proxy = new LinkProxy();
  proxies.push(proxy);
  a.transport.setPeer(2, proxy.listen(2, () => b.transport.addr));
  b.transport.setPeer(1, proxy.listen(1, () => a.transport.addr));

  a.transport.send(heartbeat(1, 2, 1));
  b.transport.send(heartbeat(2, 1, 1));
  await waitFor(() => commits(b, 1).includes(1) && commits(a, 2).includes(1), "both first heartbeats through the proxy");
  expect(proxy.stats(1, 2).forwardedBytes).toBeGreaterThan(0);

  proxy.cut(1, 2);
  for (let i = 2; i <= 20; i++) {
    a.transport.send(heartbeat(1, 2, i));
    b.transport.send(heartbeat(2, 1, i));
    await Bun.sleep(10);
  }
  await waitFor(() => commits(a, 2).includes(20), "b's heartbeats still reaching a");
  await Bun.sleep(100);
  expect(commits(b, 1)).toEqual([1]);
  expect(proxy.stats(1, 2).droppedBytes).toBeGreaterThan(0);
  expect(proxy.stats(2, 1).droppedBytes).toBe(0);
  // The sender sees nothing: a silent drop, no FIN, so no lost connection is reported.
  expect(a.rec.unreachable).toEqual([]);

  proxy.heal(1, 2);
  expect(proxy.stats(1, 2).resets).toBe(1);
  await waitFor(() => a.rec.unreachable.includes(2), "a noticing the reset connection");
  a.transport.send(heartbeat(1, 2, 21));
  await waitFor(() => commits(b, 1).includes(21), "a's heartbeat after healing", 10_000);
  // What was sent into the cut is gone (the stream was reset), not delivered late.
  expect(commits(b, 1).filter((c) => c >= 2 && c <= 20)).toEqual([]);
}, 30_000);

test("a cut in place before the first connection drops the hello too; both directions cut at once", async () => {
  const a = await startNode(1);
  const b = await startNode(2);
  nodes.push(a, b);
  const proxy = new LinkProxy();
  proxies.push(proxy);
  a.transport.setPeer(2, proxy.listen(2, () => b.transport.addr));
  b.transport.setPeer(1, proxy.listen(1, () => a.transport.addr));
  proxy.partition([1], [2]);
  expect(proxy.cutLinks()).toEqual(["1->2", "2->1"]);
  a.transport.send(heartbeat(1, 2, 1));
  b.transport.send(heartbeat(2, 1, 1));
  await Bun.sleep(300);
  expect(commits(b, 1)).toEqual([]);
  expect(commits(a, 2)).toEqual([]);
  proxy.healAll();
  // Like Raft's heartbeats, keep sending: what was written into the reset connection is lost, a redial delivers.
  let n = 2;
  await waitFor(() => {
    a.transport.send(heartbeat(1, 2, n));
    b.transport.send(heartbeat(2, 1, n++));
    return commits(b, 1).length > 0 && commits(a, 2).length > 0;
  }, "heartbeats after healing", 10_000);
  expect(commits(b, 1)).not.toContain(1);
}, 30_000);
