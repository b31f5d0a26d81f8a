// OutQueue with frames in parts (an append's fields and its shared entries section's parts) and the reused staging
// buffer: the byte stream a socket receives must be exactly the frames in order, whatever the kernel accepts
// per write, and a frame in parts is queued, dropped and batched whole.
import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { coalesce_bytes_max, OutQueue } from "../../src/transport/out_queue.ts";

/** FakeSocket takes at most `room` bytes per write (copying them: a kernel keeps nothing of the caller's). */
class FakeSocket {
  received: number[] = [];
  room = Infinity;
  write(buf: Uint8Array): number {
    const n = Math.min(buf.length, this.room);
    for (let i = 0; i < n; i++) this.received.push(buf[i]!);
    return n;
  }
}

const limits = { messagesMax: 1000, bytesMax: 64 * 1024 * 1024, ageMaxMs: Infinity };

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

function concat(parts: Uint8Array[]): number[] {
  return parts.flatMap((p) => [...p]);
}

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe("OutQueue", () => {
  test("frames in parts and one-part frames reach the socket in order, byte for byte, across partial writes", async () => {
    const socket = new FakeSocket();
    const q = new OutQueue(limits);
    q.attach(socket as unknown as Socket<unknown>);
    const section = bytes(40_000, 7); // shared by two frames, as an append's section is by two followers
    const sent: Uint8Array[] = [];
    for (let round = 0; round < 6; round++) {
      const head = bytes(30 + round, round);
      const small = bytes(10 + round, 100 + round);
      q.push(head, [section.subarray(0, 100), section.subarray(100)]);
      q.push(small);
      sent.push(head, section, small);
      socket.room = round % 2 === 0 ? 1_000 + round * 7_777 : Infinity; // some batches are cut short
      await tick();
      // More frames while a cut batch's tail is still pending: they must wait behind it.
      const late = bytes(3_000 + round, 50 + round);
      q.push(bytes(12, 200 + round), [late]);
      sent.push(bytes(12, 200 + round), late);
      socket.room = 2_001;
      await tick();
      // A cut batch waits for drain: its tail is a view of the staging buffer, which the next batch must not
      // overwrite before the tail is written.
      while (q.queuedBytes > 0) {
        socket.room = 5_003;
        q.onDrain();
      }
    }
    expect(socket.received).toEqual(concat(sent));
    expect(q.queuedBytes).toBe(0);
  });

  test("a frame in parts counts every part toward the byte limit and is refused whole", () => {
    const q = new OutQueue({ messagesMax: 10, bytesMax: 1_000, ageMaxMs: Infinity });
    expect(q.push(bytes(100, 1), [bytes(300, 2), bytes(500, 2)])).toBe(true);
    expect(q.queuedBytes).toBe(900);
    expect(q.push(bytes(50, 3), [bytes(60, 4)])).toBe(false);
    expect(q.length).toBe(1);
    expect(q.queuedBytes).toBe(900);
  });

  test("batches join frames up to coalesce_bytes_max; a lone one-part frame is written as it is", async () => {
    const writes: Uint8Array[] = [];
    const socket = { write: (buf: Uint8Array) => (writes.push(buf), buf.length) };
    const q = new OutQueue(limits);
    q.attach(socket as unknown as Socket<unknown>);
    const lone = bytes(5_000, 9);
    q.push(lone);
    await tick();
    expect(writes.length).toBe(1);
    expect(writes[0]).toBe(lone);
    const big = bytes(coalesce_bytes_max - 100, 3);
    q.push(bytes(20, 1), [big]);
    q.push(bytes(200, 2));
    await tick();
    // The second frame would take the batch past the cap: two writes, each frame whole.
    expect(writes.length).toBe(3);
    expect(writes[1]!.length).toBe(20 + big.length);
    expect(writes[2]!.length).toBe(200);
  });
});
