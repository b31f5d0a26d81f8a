import { afterEach, describe, expect, test } from "bun:test";
import type { Message } from "../../src/raft/types.ts";
import { spawnPeer, type ChildPeer } from "./child.ts";
import { heartbeat, mesh, startNode, waitFor, type TestNode } from "./helpers.ts";
import { closedWithin, hello, rawConnect } from "./raw.ts";

const nodes: TestNode[] = [];
const children: ChildPeer[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.transport.close()));
  await Promise.all(children.splice(0).map((c) => c.kill9()));
});

type SnapshotMessage = Message & { type: "snapshot" };

function snapMsg(from: number, to: number, index = 500): SnapshotMessage {
  const members = [{ id: from, role: "voter" as const, raftAddr: "127.0.0.1:1", httpAddr: "127.0.0.1:2" }];
  return { type: "snapshot", from, to, term: 3, snapshot: { index, term: 2, conf: { members } } };
}

/** image returns `bytes` of deterministic pseudo-random data (so a misplaced chunk changes the CRC). */
function image(bytes: number, seed = 1): Uint8Array {
  const data = new Uint8Array(bytes);
  const words = new Uint32Array(data.buffer, 0, Math.floor(bytes / 4));
  let s = seed;
  for (let i = 0; i < words.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    words[i] = s;
  }
  return data;
}

describe("snapshot transfer", () => {
  test("50 MB arrives intact in 1 MiB chunks while heartbeats keep flowing", async () => {
    const a = await startNode(1);
    const b = await startNode(2);
    nodes.push(a, b);
    mesh([a, b]);
    const data = image(50 * 1024 * 1024 + 123);
    const arrivals: number[] = [];
    const onMessage = b.rec.messages;
    let beat = 0;
    const ticker = setInterval(() => a.transport.send(heartbeat(1, 2, beat++)), 5);
    const seen = setInterval(() => arrivals.push(onMessage.length), 5);
    await Bun.sleep(50);
    const started = performance.now();
    const beatsBefore = b.rec.messages.length;
    const ok = await a.transport.sendSnapshot(snapMsg(1, 2), data);
    const beatsDuring = b.rec.messages.length - beatsBefore;
    const elapsed = performance.now() - started;
    clearInterval(ticker);
    clearInterval(seen);
    expect(ok).toBe(true);
    expect(b.rec.snapshots.length).toBe(1);
    const got = b.rec.snapshots[0]!;
    expect(got.message).toEqual(snapMsg(1, 2));
    expect(got.data.length).toBe(data.length);
    expect(Bun.hash.crc32(got.data)).toBe(Bun.hash.crc32(data));
    expect(Buffer.compare(got.data, data)).toBe(0);
    // Heartbeats were delivered during the transfer, none lost, in order.
    await waitFor(() => b.rec.messages.length === beat, "every heartbeat");
    expect(b.rec.messages.map((m) => (m as { commit: number }).commit)).toEqual([...Array(beat).keys()]);
    console.log(`50 MB snapshot in ${elapsed.toFixed(0)} ms (${((data.length / elapsed) * 1000 / 2 ** 20).toFixed(0)} MiB/s), ${beatsDuring} heartbeats delivered meanwhile`);
    // Sender, receiver and ticker share one event loop here, so the ticker is slowed; still, heartbeats
    // must be delivered while the image streams (roughly one per 50 ms at the very least).
    expect(beatsDuring).toBeGreaterThanOrEqual(Math.max(1, Math.floor(elapsed / 50)));
    // No stall: the receiver's count of heartbeats never stays flat for long while the image streams.
    let flat = 0;
    let longest = 0;
    for (let i = 1; i < arrivals.length; i++) {
      flat = arrivals[i] === arrivals[i - 1] ? flat + 1 : 0;
      longest = Math.max(longest, flat);
    }
    expect(longest * 5).toBeLessThan(Math.max(250, elapsed / 2));
  }, 60_000);

  test("empty and odd-sized images; a second snapshot to the same peer waits for the first", async () => {
    const a = await startNode(1, { tuning: { snapshotChunkBytes: 1000 } });
    const b = await startNode(2);
    nodes.push(a, b);
    mesh([a, b]);
    expect(await a.transport.sendSnapshot(snapMsg(1, 2, 1), new Uint8Array(0))).toBe(true);
    expect(b.rec.snapshots[0]!.data.length).toBe(0);
    const data = image(10_001, 7);
    const first = a.transport.sendSnapshot(snapMsg(1, 2, 2), data);
    expect(await a.transport.sendSnapshot(snapMsg(1, 2, 3), data)).toBe(false); // one transfer per peer at a time
    expect(await first).toBe(true);
    expect(Buffer.compare(b.rec.snapshots[1]!.data, data)).toBe(0);
    expect(b.rec.snapshots[1]!.message.snapshot.index).toBe(2);
  });

  test("completion is acknowledged only after onSnapshot resolved; a rejecting onSnapshot → false", async () => {
    const a = await startNode(1);
    const b = await startNode(2);
    nodes.push(a, b);
    mesh([a, b]);
    let release!: () => void;
    let applied = false;
    b.rec.onSnapshot = () =>
      new Promise<void>((resolve) => {
        release = () => {
          applied = true;
          resolve();
        };
      });
    let settled = false;
    const p = a.transport.sendSnapshot(snapMsg(1, 2), image(3 * 1024 * 1024)).then((ok) => {
      settled = true;
      expect(applied).toBe(true);
      return ok;
    });
    await waitFor(() => release !== undefined, "onSnapshot called");
    await Bun.sleep(100);
    expect(settled).toBe(false);
    release();
    expect(await p).toBe(true);

    b.rec.onSnapshot = async () => {
      throw new Error("disk full");
    };
    expect(await a.transport.sendSnapshot(snapMsg(1, 2), image(1000))).toBe(false);
    expect(a.transport.stats().snapshots).toEqual([]);
  });

  test("receiver killed with SIGKILL mid-transfer → false at once; a retry after restart succeeds", async () => {
    const a = await startNode(1, { tuning: { snapshotChunkBytes: 256 * 1024, snapshotWindowChunks: 2 } });
    nodes.push(a);
    let b = await spawnPeer(2);
    children.push(b);
    const addr = b.addr;
    a.transport.setPeer(2, addr);
    const data = image(200 * 1024 * 1024, 3);
    const p = a.transport.sendSnapshot(snapMsg(1, 2), data);
    await waitFor(() => (a.transport.stats().snapshots[0]?.ackedChunks ?? 0) >= 3, "a few chunks acked", 10_000);
    const progress = a.transport.stats().snapshots[0]!;
    expect(progress.ackedChunks).toBeLessThan(progress.chunks);
    const killedAt = performance.now();
    await b.kill9();
    children.splice(children.indexOf(b), 1);
    expect(await p).toBe(false);
    expect(performance.now() - killedAt).toBeLessThan(2000); // the close, not the progress timeout
    expect(b.lines.some((l) => l.startsWith("snapshot"))).toBe(false);

    b = await spawnPeer(2, addr);
    children.push(b);
    const small = data.subarray(0, 20 * 1024 * 1024);
    expect(await a.transport.sendSnapshot(snapMsg(1, 2), small)).toBe(true);
    await waitFor(() => b.lines.some((l) => l.startsWith("snapshot")), "child reports the snapshot");
    expect(b.lines.find((l) => l.startsWith("snapshot"))).toBe(`snapshot ${small.length} ${Bun.hash.crc32(small)}`);
  }, 60_000);

  test("a receiver that stops acknowledging → false after the progress timeout", async () => {
    const accepted: unknown[] = [];
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void accepted.push(d.length) } });
    try {
      const a = await startNode(1, { tuning: { snapshotProgressTimeoutMs: 300 } });
      nodes.push(a);
      a.transport.setPeer(2, `127.0.0.1:${silent.port}`);
      const started = performance.now();
      expect(await a.transport.sendSnapshot(snapMsg(1, 2), image(8 * 1024 * 1024))).toBe(false);
      const took = performance.now() - started;
      expect(took).toBeGreaterThan(250);
      expect(took).toBeLessThan(3000);
      expect(accepted.length).toBeGreaterThan(0);
    } finally {
      silent.stop(true);
    }
  });

  test("snapshot to an unreachable or unknown peer → false", async () => {
    const a = await startNode(1);
    nodes.push(a);
    expect(await a.transport.sendSnapshot(snapMsg(1, 2), image(10))).toBe(false); // never setPeer
    const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = l.port;
    l.stop(true);
    a.transport.setPeer(2, `127.0.0.1:${port}`);
    expect(await a.transport.sendSnapshot(snapMsg(1, 2), image(10))).toBe(false);
  });

  test("a corrupted image fails its CRC: onSnapshot not called, the sender is told", async () => {
    const b = await startNode(2);
    nodes.push(b);
    const raw = await rawConnect(b.transport.addr);
    const data = image(3000);
    raw.frame(hello(1, 2, "c1", "snap"));
    raw.frame({ t: "sb", m: snapMsg(1, 2), size: data.length, crc: (Bun.hash.crc32(data) ^ 1) >>> 0, chunk: 1000 });
    for (let seq = 0; seq < 3; seq++) raw.frame({ t: "sc", seq, data: data.subarray(seq * 1000, (seq + 1) * 1000) });
    await waitFor(() => raw.frames.length === 4, "3 acks and a verdict");
    expect(raw.frames).toEqual([
      { t: "sa", seq: 0 },
      { t: "sa", seq: 1 },
      { t: "sa", seq: 2 },
      { t: "sd", ok: false, reason: "crc mismatch" },
    ]);
    expect(b.rec.snapshots).toEqual([]);
    raw.socket.end();
  });

  test.each([
    ["a chunk out of order", [{ t: "sc", seq: 1, data: new Uint8Array(10) }]],
    ["a chunk past the end", [{ t: "sc", seq: 0, data: new Uint8Array(10) }, { t: "sc", seq: 1, data: new Uint8Array(1) }]],
    ["a raft message on a snapshot link", [{ t: "m", m: heartbeat(1, 2, 1) }]],
  ])("%s closes the snapshot link", async (_name, frames) => {
    const b = await startNode(2);
    nodes.push(b);
    const raw = await rawConnect(b.transport.addr);
    raw.frame(hello(1, 2, "c1", "snap"));
    raw.frame({ t: "sb", m: snapMsg(1, 2), size: 10, crc: 0, chunk: 10 });
    for (const f of frames) raw.frame(f);
    expect(await closedWithin(raw, 2000)).toBe(true);
    expect(b.rec.snapshots).toEqual([]);
    expect(b.rec.messages).toEqual([]);
  });
});

test("a second snapshot link from the same peer supersedes the first (one image buffer per peer)", async () => {
  const b = await startNode(2);
  nodes.push(b);
  const first = await rawConnect(b.transport.addr);
  first.frame(hello(1, 2, "c1", "snap"));
  first.frame({ t: "sb", m: snapMsg(1, 2), size: 100, crc: 0, chunk: 10 });
  first.frame({ t: "sc", seq: 0, data: new Uint8Array(10) });
  await waitFor(() => first.frames.length === 1, "first chunk acked");
  expect(await closedWithin(first, 100)).toBe(false);
  const second = await rawConnect(b.transport.addr);
  second.frame(hello(1, 2, "c1", "snap"));
  expect(await closedWithin(first, 2000)).toBe(true);
  expect(second.isClosed()).toBe(false);
  second.socket.end();
});
