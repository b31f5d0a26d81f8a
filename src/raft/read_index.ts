import { assert } from "../shared/assert.ts";
import { hasQuorum } from "./quorum.ts";
import type { Index, NodeId } from "./types.ts";

/** PendingRead is one ReadIndex request on the leader; from is 0 for a local request. */
export interface PendingRead {
  ctx: string;
  from: NodeId;
  index: Index;
  acks: Set<NodeId>;
}

/**
 * ReadIndexQueue holds reads waiting for their heartbeat round (thesis §6.4). A round is tagged with
 * the newest queued read's ctx and sent after every queued read was registered, so a quorum of acks on
 * one ctx releases it and all reads queued before it.
 */
export class ReadIndexQueue {
  private queue: PendingRead[] = [];
  private readonly byCtx = new Map<string, PendingRead>();

  add(read: PendingRead): void {
    assert(read.ctx !== "", "read index: ctx must be non-empty");
    const prev = this.queue[this.queue.length - 1];
    assert(prev === undefined || prev.index <= read.index, "read index: indexes never decrease in the queue");
    if (this.byCtx.has(read.ctx)) return; // a duplicate request joins the first one
    this.queue.push(read);
    this.byCtx.set(read.ctx, read);
  }

  /** ack records that `from` confirmed the round `ctx`; returns the reads released by it (in order). */
  ack(ctx: string, from: NodeId, voters: readonly NodeId[]): PendingRead[] {
    const read = this.byCtx.get(ctx);
    if (!read) return [];
    read.acks.add(from);
    if (!hasQuorum(voters, read.acks)) return [];
    const at = this.queue.indexOf(read);
    const released = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    for (const r of released) this.byCtx.delete(r.ctx);
    return released;
  }

  /** drain removes and returns every pending read (leadership lost: they fail). */
  drain(): PendingRead[] {
    const all = this.queue;
    this.queue = [];
    this.byCtx.clear();
    return all;
  }

  /** lastCtx is the newest pending read's ctx ("" when none): its round confirms every read. */
  lastCtx(): string {
    return this.queue[this.queue.length - 1]?.ctx ?? "";
  }

  size(): number {
    return this.queue.length;
  }
}
