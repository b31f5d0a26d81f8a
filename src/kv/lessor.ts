import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import { compareKeys } from "./key_order.ts";

const lease_hash_seed = 0x6c656173n; // "leas"

/** LeaseRecord: a lease as the replicated state holds it (etcd's Lease without its expiry: that is the leader's). */
export interface LeaseRecord {
  id: number;
  /** ttl: the granted TTL in seconds (already raised to the minimum by the leader that proposed the grant). */
  ttl: number;
}

/**
 * LeaseHook is what MvccStore asks about leases while it writes: whether a lease exists (a put naming an
 * unknown one is refused with lease_not_found) and which keys are attached to which lease.
 */
export interface LeaseHook {
  exists(id: number): boolean;
  attach(key: string, id: number): void;
  detach(key: string, id: number): void;
}

/**
 * Lessor is the replicated half of etcd's lessor: the granted leases (id, TTL) and the live keys attached to
 * each. It has no clock: when a lease expires is the leader's business (src/node/lease_keeper.ts), which
 * proposes a revoke through the log, so every replica deletes the same keys at the same revision.
 *
 * The attachments are derived state (the store's records carry each key's lease): a snapshot stores only
 * the leases, and restore rebuilds the attachments from the live keys. The content hash covers ids and TTLs.
 */
export class Lessor implements LeaseHook {
  private readonly leases = new Map<number, { ttl: number; keys: Set<string> }>();
  private hash = 0n;
  /** version changes on every grant, revoke and restore, so the leader's clock knows when to resync. */
  version = 0;

  get size(): number {
    return this.leases.size;
  }

  get contentHash(): bigint {
    return this.hash;
  }

  exists(id: number): boolean {
    return this.leases.has(id);
  }

  attach(key: string, id: number): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw leaseNotFound(id);
    lease.keys.add(key);
  }

  detach(key: string, id: number): void {
    this.leases.get(id)?.keys.delete(key);
  }

  /** grant adds lease `id` (apply time: the id and TTL were chosen and checked by the proposing leader). */
  grant(id: number, ttl: number): void {
    if (this.leases.has(id)) throw new QklzlError("lease_exists", `lease ${id} already exists`, { id });
    if (this.leases.size >= limits.leases_max) {
      throw new QklzlError("too_many_leases", `there are already ${limits.leases_max} leases (the maximum)`, { limit: limits.leases_max });
    }
    this.leases.set(id, { ttl, keys: new Set() });
    this.hash ^= leaseHash(id, ttl);
    this.version++;
  }

  /** keysOf: the keys attached to lease `id`, in key order (the order a revoke deletes them in); throws lease_not_found. */
  keysOf(id: number): string[] {
    const lease = this.leases.get(id);
    if (lease === undefined) throw leaseNotFound(id);
    return [...lease.keys].sort(compareKeys);
  }

  /** remove forgets lease `id` (its keys were deleted first by the revoke). */
  remove(id: number): void {
    const lease = this.leases.get(id);
    if (lease === undefined) throw leaseNotFound(id);
    this.leases.delete(id);
    this.hash ^= leaseHash(id, lease.ttl);
    this.version++;
  }

  get(id: number): LeaseRecord | null {
    const lease = this.leases.get(id);
    return lease === undefined ? null : { id, ttl: lease.ttl };
  }

  /** records: every lease, by increasing id (the snapshot's order). */
  records(): LeaseRecord[] {
    return [...this.leases].map(([id, lease]) => ({ id, ttl: lease.ttl })).sort((a, b) => a.id - b.id);
  }

  /**
   * restore builds a lessor from a snapshot's leases and the live keys with a lease (from the store); a key
   * naming a lease the image does not hold means a broken image.
   */
  static restore(records: LeaseRecord[], leasedKeys: Iterable<[string, number]>): Lessor {
    const lessor = new Lessor();
    for (const r of records) {
      if (lessor.leases.has(r.id)) throw new Error(`lease ${r.id} appears twice`);
      lessor.leases.set(r.id, { ttl: r.ttl, keys: new Set() });
      lessor.hash ^= leaseHash(r.id, r.ttl);
    }
    for (const [key, id] of leasedKeys) {
      const lease = lessor.leases.get(id);
      if (lease === undefined) throw new Error(`key ${JSON.stringify(key)} is attached to lease ${id}, which the image does not hold`);
      lease.keys.add(key);
    }
    return lessor;
  }
}

export function leaseNotFound(id: number): QklzlError {
  return new QklzlError("lease_not_found", `lease ${id} not found (never granted, revoked or expired)`, { id });
}

function leaseHash(id: number, ttl: number): bigint {
  return Bun.hash.wyhash(`lease:${id}:${ttl}`, lease_hash_seed);
}
