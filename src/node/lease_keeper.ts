import type { ConsolaInstance } from "consola";
import { encodeRequest, type KvRequest, type KvStateMachine } from "../kv/index.ts";
import type { SoftState } from "../raft/soft_state.ts";
import { QklzlError, type ErrorCode } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type { Applied } from "./proposals.ts";

export interface LeaseKeeperContext {
  electionMs: number;
  kv: KvStateMachine;
  logger: ConsolaInstance;
  softState(): SoftState;
  /** propose: an encoded entry, through the leader's checks; resolves with the apply answer. */
  propose(data: Uint8Array): Promise<Applied>;
  /** confirmLeader: a ReadIndex round: this node still leads and applied up to the commit index it confirmed. */
  confirmLeader(): Promise<void>;
  /** notLeaderError: the refusal naming the leader, so the HTTP layer forwards or redirects. */
  notLeaderError(): QklzlError;
  /** now: the clock (performance.now() by default; tests drive their own, as the runtime's tick passes its own). */
  now?(): number;
}

export interface LeaseTtlJson {
  id: number;
  /** ttl: the whole seconds left on the leader's clock. */
  ttl: number;
  remaining_ms: number;
  granted_ttl: number;
  keys?: string[];
}

/**
 * LeaseKeeper is the runtime half of etcd's lessor: the leader's expiry clock. The state machine holds the
 * granted TTLs; when each lease expires is in-memory state of the leader only (never replicated, never
 * decided by a follower's clock): a lease whose time ran out is revoked by proposing a revoke entry, so every
 * replica deletes the same keys at the same revision.
 *
 * On becoming leader (every new term), every lease gets its full TTL again before any can expire, so a
 * failover never makes a lease expire early (the keepalives acknowledged by the old leader were answered
 * before a majority voted for us); it may live up to about an election timeout longer. A keepalive is
 * answered after a ReadIndex round, so a deposed leader cannot acknowledge one.
 */
export class LeaseKeeper {
  /** expiry: lease id -> the clock (performance.now()) at which it expires; only while leading. */
  private readonly expiry = new Map<number, number>();
  /** revoking: expired leases whose revoke entry is in flight (proposed once, retried if it fails). */
  private readonly revoking = new Set<number>();
  /** leaderTerm: the term we lead in (0 when not leading); a new term resets every lease to its full TTL. */
  private leaderTerm = 0;
  private seenVersion = -1;
  /** minTtl: the shortest TTL in seconds, at least the longest randomized election timeout (2 × --election-ms). */
  readonly minTtl: number;
  expiredCount = 0;
  private lastFailureLogAt = Number.NEGATIVE_INFINITY;

  private readonly now: () => number;

  constructor(private readonly context: LeaseKeeperContext) {
    this.now = context.now ?? (() => performance.now());
    this.minTtl = Math.max(1, Math.ceil((2 * context.electionMs) / 1000));
  }

  /** tick: on the heartbeat clock. As leader, propose the revoke of every lease whose time ran out. */
  tick(now: number): void {
    if (!this.sync(now)) return;
    let proposed = 0;
    for (const [id, at] of this.expiry) {
      if (at > now || this.revoking.has(id)) continue;
      if (proposed++ >= limits.lease_revokes_per_tick_max) break;
      this.revoking.add(id);
      this.context.logger.info(`lease ${id} expired: proposing its revoke`);
      this.context
        .propose(encodeRequest({ kind: "lease_revoke", lease_revoke: { id } }))
        .then((applied) => {
          if (applied.response?.kind === "lease_revoke") this.expiredCount++;
        })
        .catch((error: unknown) => {
          // One line a second at most: a leader without quorum fails every revoke until it steps down.
          const at = this.now();
          if (at - this.lastFailureLogAt < 1000) return;
          this.lastFailureLogAt = at;
          this.context.logger.warn(`the revoke of expired lease ${id} failed (retried while leading): ${error instanceof Error ? error.message : String(error)}`);
        })
        .finally(() => this.revoking.delete(id));
    }
  }

  /**
   * sync makes the expiry clock follow the role and the lease table: false when not leading (the clock is
   * dropped), a new term restarts every lease's full TTL, a newly applied lease gets its full TTL from now.
   */
  private sync(now: number): boolean {
    const soft = this.context.softState();
    if (soft.role !== "leader") {
      if (this.leaderTerm !== 0 || this.expiry.size > 0) {
        this.expiry.clear();
        this.leaderTerm = 0;
      }
      return false;
    }
    const kv = this.context.kv;
    if (soft.term !== this.leaderTerm) {
      this.leaderTerm = soft.term;
      this.expiry.clear();
      this.seenVersion = -1;
      if (kv.leaseCount > 0) this.context.logger.info(`leases: leading in term ${soft.term}, every one of the ${kv.leaseCount} leases gets its full TTL again`);
    }
    if (kv.leasesVersion !== this.seenVersion) {
      this.seenVersion = kv.leasesVersion;
      const live = new Set<number>();
      for (const lease of kv.leases()) {
        live.add(lease.id);
        if (!this.expiry.has(lease.id)) this.expiry.set(lease.id, now + lease.ttl * 1000);
      }
      for (const id of this.expiry.keys()) if (!live.has(id)) this.expiry.delete(id);
    }
    return true;
  }

  /** metricLines: the lease figures of GET /metrics (granted leases on every node; expiries proposed here). */
  metricLines(): string[] {
    return [
      "# HELP qklzl_leases Leases granted and not yet revoked or expired (replicated state).",
      "# TYPE qklzl_leases gauge",
      `qklzl_leases ${this.context.kv.leaseCount}`,
      "# HELP qklzl_leases_expired_total Leases this node, as leader, revoked because their TTL ran out.",
      "# TYPE qklzl_leases_expired_total counter",
      `qklzl_leases_expired_total ${this.expiredCount}`,
    ];
  }

  /** grant: a new lease of `ttl` seconds (raised to the minimum), with `id` or one chosen here (the entry carries it). */
  async grant(ttl: number, requested: number | undefined): Promise<{ id: number; ttl: number }> {
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new QklzlError("bad_request", "ttl must be a positive integer (seconds)");
    if (ttl > limits.lease_ttl_seconds_max) {
      throw new QklzlError("bad_request", `ttl ${ttl} is over the maximum of ${limits.lease_ttl_seconds_max} seconds`, {
        limit: limits.lease_ttl_seconds_max,
      });
    }
    const kv = this.context.kv;
    if (requested !== undefined && (!Number.isSafeInteger(requested) || requested <= 0)) throw new QklzlError("bad_request", "id must be a positive integer");
    if (requested !== undefined && kv.lease(requested) !== null) throw new QklzlError("lease_exists", `lease ${requested} already exists`, { id: requested });
    if (kv.leaseCount >= limits.leases_max) {
      throw new QklzlError("too_many_leases", `there are already ${limits.leases_max} leases (the maximum)`, { limit: limits.leases_max });
    }
    const id = requested ?? this.freshId();
    const granted = Math.max(ttl, this.minTtl);
    const applied = await this.propose({ kind: "lease_grant", lease_grant: { id, ttl: granted } });
    if (applied.kind !== "lease_grant") throw new QklzlError("internal", "a lease grant was answered with another kind");
    // The full TTL counts from the apply here (sync first: a new term's reset must not come after it).
    const now = this.now();
    if (this.sync(now) && !this.expiry.has(id)) this.expiry.set(id, now + granted * 1000);
    return { id, ttl: granted };
  }

  /** revoke: delete the lease and its keys (one revision); lease_not_found if it is gone. */
  async revoke(id: number): Promise<{ revision: number; deleted: number }> {
    const applied = await this.propose({ kind: "lease_revoke", lease_revoke: { id } });
    if (applied.kind !== "lease_revoke") throw new QklzlError("internal", "a lease revoke was answered with another kind");
    return { revision: applied.lease_revoke.revision, deleted: applied.lease_revoke.deleted };
  }

  /**
   * keepAlive restarts the lease's full TTL on the leader's clock (after a ReadIndex round: we still lead);
   * an unknown lease, or one whose time already ran out (its revoke is on the way), is lease_not_found.
   */
  async keepAlive(id: number): Promise<{ id: number; ttl: number }> {
    await this.context.confirmLeader();
    const now = this.now();
    const ttl = this.liveTtl(id, now);
    this.expiry.set(id, now + ttl * 1000);
    return { id, ttl };
  }

  /** timeToLive: the granted TTL, what is left on the leader's clock and (with keys) the attached keys. */
  async timeToLive(id: number, withKeys: boolean): Promise<LeaseTtlJson> {
    await this.context.confirmLeader();
    const now = this.now();
    const granted = this.liveTtl(id, now);
    const remaining = Math.max(0, Math.round(this.expiry.get(id)! - now));
    const answer: LeaseTtlJson = { id, ttl: Math.floor(remaining / 1000), remaining_ms: remaining, granted_ttl: granted };
    if (withKeys) answer.keys = this.context.kv.lease(id)!.keys;
    return answer;
  }

  /** list: every lease (id and granted TTL), as the leader knows them after a ReadIndex round. */
  async list(): Promise<{ id: number; ttl: number }[]> {
    await this.context.confirmLeader();
    return this.context.kv.leases();
  }

  /** liveTtl: the granted TTL of a lease that exists and has not run out; else lease_not_found. */
  private liveTtl(id: number, now: number): number {
    if (!this.sync(now)) throw this.context.notLeaderError();
    const lease = this.context.kv.lease(id);
    const at = this.expiry.get(id);
    if (lease === null || at === undefined || at <= now) {
      throw new QklzlError("lease_not_found", `lease ${id} not found (never granted, revoked or expired)`, { id });
    }
    return lease.ttl;
  }

  private async propose(request: KvRequest) {
    const { response } = await this.context.propose(encodeRequest(request));
    if (response === undefined) throw new QklzlError("internal", "a lease request was applied without an answer");
    if (response.kind === "error") throw new QklzlError(response.error.error as ErrorCode, response.error.message, response.error.details ?? {});
    return response;
  }

  /** freshId: a random id in [1, 2^52) not in use (the leader chooses; the entry carries it to every replica). */
  private freshId(): number {
    for (;;) {
      const words = crypto.getRandomValues(new Uint32Array(2));
      const id = (words[0]! % 0x100000) * 0x100000000 + words[1]!;
      if (id > 0 && this.context.kv.lease(id) === null) return id;
    }
  }
}
