import { check, type Cluster, request, waitFor } from "../../scenarios/harness.ts";

// lease_support.ts: what the lease tests against processes share (lease_expiry.test.ts, partition_lease.test.ts).
// The checker is the safety rule of etcd's leases: a key never disappears before its lease's TTL, counted from
// when the last acknowledged keepalive (or the grant) was SENT; it may live longer by about a failover (an
// election timeout or two) plus the leader's tick. A key's absence is established by a linearizable read, and
// dated by when its answer ARRIVED, so the early check never raises a false alarm.

export interface LeaseReply {
  status: number;
  body: Record<string, unknown>;
}

/**
 * LeaseClient sends requests to the running, unpaused nodes in turn until one answers 200 or 404 (followers
 * forward lease calls), starting at the node that answered last: a node cut off from the majority costs one
 * timeout, not one per request.
 */
export class LeaseClient {
  private preferred = 0;

  constructor(
    readonly cluster: Cluster,
    readonly ttl: number,
    /** lateMsMax: how much longer than its TTL a lease may live: a failover (~2 election timeouts) and load. */
    readonly lateMsMax: number,
  ) {}

  async viaAny(path: string, json?: unknown): Promise<LeaseReply> {
    const running = this.cluster.running().filter((id) => !this.cluster.node(id).paused);
    const ids = running.includes(this.preferred) ? [this.preferred, ...running.filter((id) => id !== this.preferred)] : running;
    let last: LeaseReply = { status: 0, body: {} };
    for (const id of ids) {
      const addr = this.cluster.node(id).httpAddr;
      const reply = await request(addr, path, json === undefined ? { timeoutMs: 1000 } : { method: "POST", json, timeoutMs: 1000 });
      last = { status: reply.status, body: (reply.json ?? {}) as Record<string, unknown> };
      if (reply.status === 200 || reply.status === 404) {
        this.preferred = id;
        return last;
      }
    }
    return last;
  }

  async grant(seconds = this.ttl): Promise<{ id: number; sentAt: number }> {
    for (;;) {
      const sentAt = performance.now();
      const reply = await this.viaAny("/lease/grant", { ttl: seconds });
      if (reply.status === 200) return { id: reply.body.id as number, sentAt };
      await Bun.sleep(100);
    }
  }

  async putWithLease(key: string, lease: number): Promise<void> {
    await waitFor(async () => (await this.viaAny("/kv", { op: "put", key, value: "x", lease })).status === 200, { deadlineMs: 10_000, what: `put ${key}` });
  }

  /** checkExpiry: gone no earlier than TTL after the last acknowledged keepalive was sent, and not much later. */
  checkExpiry(what: string, goneAt: number, lastAckedSentAt: number): void {
    const lived = goneAt - lastAckedSentAt;
    check(lived >= this.ttl * 1000, `${what}: gone ${Math.round(lived)} ms after the last acknowledged keepalive was sent, before its TTL of ${this.ttl} s`);
    check(
      lived <= this.ttl * 1000 + this.lateMsMax,
      `${what}: gone ${Math.round(lived)} ms after the last acknowledged keepalive, more than TTL + ${this.lateMsMax} ms`,
    );
  }
}

/** Keeper keeps a lease alive every 400 ms through any live node, recording when each acknowledged keepalive was sent. */
export class Keeper {
  lastAckedSentAt: number;
  acked = 0;
  notFound = 0;
  private running = true;
  private done: Promise<void>;

  constructor(
    private readonly client: LeaseClient,
    readonly id: number,
    grantedSentAt: number,
  ) {
    this.lastAckedSentAt = grantedSentAt;
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const sentAt = performance.now();
      const reply = await this.client.viaAny("/lease/keepalive", { id: this.id });
      if (reply.status === 200) {
        this.lastAckedSentAt = Math.max(this.lastAckedSentAt, sentAt);
        this.acked++;
      } else if (reply.body.error === "lease_not_found") this.notFound++;
      await Bun.sleep(400);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/**
 * Watcher reads keys (linearizably, through any live node) every 50 ms and dates the first answer saying each
 * is gone, once it was seen present.
 */
export class Watcher {
  readonly goneAt = new Map<string, number>();
  private readonly seen = new Set<string>();
  private running = true;
  private done: Promise<void>;

  constructor(
    private readonly client: LeaseClient,
    readonly keys: string[],
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      for (const key of this.keys) {
        if (this.goneAt.has(key)) continue;
        const reply = await this.client.viaAny(`/kv?key=${encodeURIComponent(key)}`);
        if (reply.status === 200) this.seen.add(key);
        else if (reply.status === 404 && reply.body.error === "key_not_found" && this.seen.has(key)) this.goneAt.set(key, performance.now());
      }
      await Bun.sleep(50);
    }
  }

  async waitGone(key: string, deadlineMs: number): Promise<number> {
    await waitFor(() => this.goneAt.has(key), { deadlineMs, what: `${key} deleted by its lease's expiry` });
    return this.goneAt.get(key)!;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}
