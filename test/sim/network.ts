import type { Message, NodeId } from "../../src/raft/types.ts";
import type { SimRng } from "./rng.ts";

/** SnapshotImage is a state-machine image: image[i] is the identity of the entry applied at index i. */
export type SnapshotImage = readonly string[];

/** Packet is one message on the simulated wire; a snapshot message carries its data beside it. */
export interface Packet {
  msg: Message;
  image: SnapshotImage | null;
  /** incarnation of the sender when it sent (a snapshot report goes only to that same process). */
  incarnation: number;
  deliverAt: number;
}

export type SendOutcome = "queued" | "lost" | "cut";

/** NetworkOptions: delay in ticks, per-message loss and duplication probabilities. */
export interface NetworkOptions {
  delayMin: number;
  delayMax: number;
  loss: number;
  duplicate: number;
  /** longDelay: with this probability a message is held back up to longDelayMax ticks (heavy reordering). */
  longDelay: number;
  longDelayMax: number;
  /** fifo: deliver packets due in the same tick in send order (like TCP) instead of shuffled. */
  fifo?: boolean;
}

export const reliableNetwork: NetworkOptions = { delayMin: 0, delayMax: 1, loss: 0, duplicate: 0, longDelay: 0, longDelayMax: 0 };

/**
 * SimNetwork is the simulated wire: per-link blocking (partitions, also one-way), random delay (which
 * reorders), loss and duplication. A message whose link is cut while it is in flight is dropped at
 * delivery, like a broken connection.
 */
export class SimNetwork {
  options: NetworkOptions;
  private readonly queue = new Map<number, Packet[]>();
  private readonly blocked = new Set<string>();
  sent = 0;
  delivered = 0;
  sentByType = new Map<string, number>();
  /** rejectedAppends counts append_resp rejections (each one is a log-repair round trip). */
  rejectedAppends = 0;

  constructor(
    private readonly rng: SimRng,
    options: NetworkOptions,
  ) {
    this.options = { ...options };
  }

  /** send puts `msg` on the wire at tick `now`; "cut" means the link is down (the sender may notice). */
  send(now: number, msg: Message, image: SnapshotImage | null, incarnation: number): SendOutcome {
    this.sent++;
    this.sentByType.set(msg.type, (this.sentByType.get(msg.type) ?? 0) + 1);
    if (msg.type === "append_resp" && msg.reject) this.rejectedAppends++;
    if (this.isBlocked(msg.from, msg.to)) return "cut";
    if (this.rng.chance(this.options.loss)) return "lost";
    this.enqueue(now, { msg, image, incarnation, deliverAt: 0 });
    if (this.rng.chance(this.options.duplicate)) this.enqueue(now, { msg: copyMessage(msg), image, incarnation, deliverAt: 0 });
    return "queued";
  }

  private enqueue(now: number, packet: Packet): void {
    const o = this.options;
    let delay = this.rng.between(o.delayMin, o.delayMax);
    if (this.rng.chance(o.longDelay)) delay += this.rng.between(1, o.longDelayMax);
    // Deliveries happen at the earliest on the next tick: a step never re-enters the core it came from.
    const at = now + Math.max(1, delay);
    packet.deliverAt = at;
    const bucket = this.queue.get(at);
    if (bucket) bucket.push(packet);
    else this.queue.set(at, [packet]);
  }

  /** due removes and returns the packets to deliver at `now`, in a random order, minus cut links. */
  due(now: number): { packets: Packet[]; cut: Packet[] } {
    const bucket = this.queue.get(now);
    if (!bucket) return { packets: [], cut: [] };
    this.queue.delete(now);
    const packets: Packet[] = [];
    const cut: Packet[] = [];
    const ordered = this.options.fifo ? bucket : this.rng.shuffle(bucket);
    for (const p of ordered) (this.isBlocked(p.msg.from, p.msg.to) ? cut : packets).push(p);
    this.delivered += packets.length;
    return { packets, cut };
  }

  inFlight(): number {
    let n = 0;
    for (const bucket of this.queue.values()) n += bucket.length;
    return n;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(`${from}>${to}`);
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(`${from}>${to}`);
  }

  /** isolate cuts every link to and from `id` (among `all`). */
  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) {
      if (other === id) continue;
      this.block(id, other);
      this.block(other, id);
    }
  }

  /** reconnect restores every link to and from `id`. */
  reconnect(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) {
      this.unblock(id, other);
      this.unblock(other, id);
    }
  }

  /** split cuts every link between the groups (both ways). */
  split(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.block(x, y);
      }
    }
  }

  healAll(): void {
    this.blocked.clear();
  }

  partitioned(): boolean {
    return this.blocked.size > 0;
  }

  /** messagesOfType counts sends of one message type since the last reset. */
  messagesOfType(type: string): number {
    return this.sentByType.get(type) ?? 0;
  }

  resetCounters(): void {
    this.sent = 0;
    this.delivered = 0;
    this.sentByType = new Map();
    this.rejectedAppends = 0;
  }
}

/**
 * copyMessage copies what a real wire would: the receiver never shares objects with the sender's
 * log (entries are copied; their immutable payload bytes are shared).
 */
export function copyMessage(msg: Message): Message {
  if (msg.type === "append") return { ...msg, entries: msg.entries.map((e) => ({ ...e })) };
  if (msg.type === "snapshot") return { ...msg, snapshot: { ...msg.snapshot, conf: { members: msg.snapshot.conf.members.map((m) => ({ ...m })) } } };
  return { ...msg };
}
