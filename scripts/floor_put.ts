// floor_put.ts: the least a replicated put can cost in Bun on this machine, to set qklzl's 64-connection figures
// against. Three processes: a leader that takes POST /kv {"op":"put","key","value"} on Bun.serve, parses it
// (JSON.parse), appends the body to its log file and sends it to two followers over one TCP connection each
// (Bun.listen / Bun.connect, length-prefixed batches), and answers {"ok":true,"index":N} once its own fdatasync
// (on the thread pool, as qklzl's leader) and one follower's ack cover the put and it is set in a Map. A follower
// writes each batch to its file, fdatasyncs on its event loop (as qklzl's followers), sets every put in a Map
// and acks. No raft, no MVCC, no checksums, no recovery: only the work any Bun store with a leader, a quorum
// and an fsync per batch has to do. Pipelined like qklzl: batches go out while an fsync is in flight.
//   bun scripts/floor_put.ts leader HTTP_PORT DIR PEER_PORT_A PEER_PORT_B
//   bun scripts/floor_put.ts follower PEER_PORT DIR
import fs from "node:fs";
import path from "node:path";

const [role, portArg, dir, ...peers] = Bun.argv.slice(2);
if (role === undefined || portArg === undefined || dir === undefined) throw new Error("usage: floor_put.ts leader|follower PORT DIR [PEER_PORTS]");
fs.mkdirSync(dir, { recursive: true });
const fd = fs.openSync(path.join(dir, "log"), "w");
const store = new Map<string, string>();
/**
 * FLOOR_BURN_NS: CPU spent per put by busy-waiting (leader: in the handler; follower: per applied put), to give
 * the floor qklzl's CPU per put and see whether the same CPU alone brings qklzl's latency spread.
 */
const burnNs = Number(process.env.FLOOR_BURN_NS ?? "0");
/** FLOOR_BURN_AT=commit: the leader burns at commit, a batch's worth at once, instead of per request as it arrives. */
const burnAtCommit = process.env.FLOOR_BURN_AT === "commit";
function burn(): void {
  if (burnNs <= 0) return;
  const until = Bun.nanoseconds() + burnNs;
  while (Bun.nanoseconds() < until);
}

/** frame: [u32 length of the rest][u32 last sequence number][u32 count][count × (u32 length, bytes)]. */
function frame(last: number, bodies: Uint8Array[]): Uint8Array {
  let size = 12;
  for (const b of bodies) size += 4 + b.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size - 4, true);
  view.setUint32(4, last, true);
  view.setUint32(8, bodies.length, true);
  let at = 12;
  for (const b of bodies) {
    view.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

function applyBody(bytes: Uint8Array): void {
  const put = JSON.parse(decoder.decode(bytes)) as { key: string; value: string };
  store.set(put.key, put.value);
  burn();
}
const decoder = new TextDecoder();
/** FLOOR_HOLD_MB: this many MB held in 4 MiB ArrayBuffers for the whole run (qklzl's store, log and images). */
const held = Array.from({ length: Math.ceil(Number(process.env.FLOOR_HOLD_MB ?? "0") / 4) }, () => new Uint8Array(4 << 20).fill(1));

if (role === "follower") {
  let pending = new Uint8Array(0);
  Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: Number(portArg),
    socket: {
      data(socket, chunk) {
        const all = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let at = 0;
        let last = -1;
        const view = new DataView(all.buffer, all.byteOffset, all.byteLength);
        while (at + 4 <= all.length) {
          const len = view.getUint32(at, true);
          if (at + 4 + len > all.length) break;
          fs.writeSync(fd, all, at, 4 + len);
          last = view.getUint32(at + 4, true);
          const count = view.getUint32(at + 8, true);
          let p = at + 12;
          for (let i = 0; i < count; i++) {
            const n = view.getUint32(p, true);
            applyBody(all.subarray(p + 4, p + 4 + n));
            p += 4 + n;
          }
          at += 4 + len;
        }
        pending = all.slice(at);
        if (last < 0) return;
        fs.fdatasyncSync(fd);
        const ack = new Uint8Array(4);
        new DataView(ack.buffer).setUint32(0, last, true);
        socket.write(ack);
      },
    },
  });
} else {
  type Waiter = { seq: number; key: string; value: string; resolve: (r: Response) => void };
  const waiting: Waiter[] = [];
  let next = 0;
  let batch: Uint8Array[] = [];
  let durable = -1;
  let syncing = false;
  let written = -1;
  const acked = [-1, -1];
  const ackRest: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)];
  const links: Bun.Socket<undefined>[] = [];
  let flushQueued = false;

  const commit = (): void => {
    const quorum = Math.min(durable, Math.max(acked[0]!, acked[1]!));
    let done = 0;
    while (done < waiting.length && waiting[done]!.seq <= quorum) {
      const w = waiting[done++]!;
      store.set(w.key, w.value);
      if (burnAtCommit) burn();
      w.resolve(Response.json({ ok: true, index: w.seq + 1 }));
    }
    if (done > 0) waiting.splice(0, done);
  };
  const sync = (): void => {
    if (syncing || written <= durable) return;
    syncing = true;
    const upTo = written;
    fs.fdatasync(fd, () => {
      syncing = false;
      durable = upTo;
      commit();
      sync();
    });
  };
  const flush = (): void => {
    flushQueued = false;
    if (batch.length === 0) return;
    const out = frame(next - 1, batch);
    batch = [];
    fs.writeSync(fd, out);
    written = next - 1;
    for (const link of links) link.write(out);
    sync();
  };
  for (const [i, p] of peers.entries()) {
    links.push(
      await Bun.connect<undefined>({
        hostname: "127.0.0.1",
        port: Number(p),
        socket: {
          data(_socket, chunk) {
            // Acks are 4 bytes each; a chunk may end inside one, so keep its first bytes for the next.
            const all = ackRest[i]!.length === 0 ? chunk : Buffer.concat([ackRest[i]!, chunk]);
            const whole = all.length - (all.length % 4);
            if (whole > 0) acked[i] = new DataView(all.buffer, all.byteOffset, whole).getUint32(whole - 4, true);
            ackRest[i] = all.slice(whole);
            commit();
          },
        },
      }),
    );
  }
  Bun.serve({
    hostname: "127.0.0.1",
    port: Number(portArg),
    async fetch(req) {
      const bytes = await req.bytes();
      const put = JSON.parse(decoder.decode(bytes)) as { op: string; key: string; value: string };
      if (put.op !== "put" || typeof put.key !== "string" || typeof put.value !== "string") return Response.json({ error: "bad_request" }, { status: 400 });
      if (!burnAtCommit) burn();
      const { promise, resolve } = Promise.withResolvers<Response>();
      waiting.push({ seq: next++, key: put.key, value: put.value, resolve });
      batch.push(bytes);
      if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
      return promise;
    },
  });
}
