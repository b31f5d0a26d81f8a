import { encodeRequest, type KeyValue, type KvRequest, type KvStateMachine, type RangeRequest, type RangeResponse } from "../kv/index.ts";
import type { RaftCore } from "../raft/index.ts";
import type { ConfChange } from "../raft/types.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import { stamp, TracePoint, tracing } from "../shared/trace.ts";
import type { Consistency } from "./api.ts";
import type { NodeMetrics } from "./metrics.ts";
import type { Peers } from "./peers.ts";
import type { Applied, Proposals } from "./proposals.ts";
import type { Reads } from "./reads.ts";
import type { Refusals } from "./refusals.ts";

export interface RequestsContext {
  core(): RaftCore;
  kv: KvStateMachine;
  proposals: Proposals;
  reads: Reads;
  peers: Peers;
  refusals: Refusals;
  metrics: NodeMetrics;
  /** ensureRunning throws shutting_down while the node starts or stops. */
  ensureRunning(): void;
  wake(): void;
}

/**
 * Requests is the runtime's request side: fast refusals first (not running, not leader, no quorum, too many
 * pending), then the core, then the wait for apply (Proposals) or for the read index (Reads).
 */
export class Requests {
  constructor(private readonly context: RequestsContext) {}

  /**
   * propose appends one application entry (a validated, encoded command) and resolves once it is applied here.
   * Not async: the busiest call pays for no async frame of its own (a generator, a promise and a reaction per
   * put on the leader); a refusal is a rejected promise all the same.
   */
  propose(data: Uint8Array): Promise<Applied> {
    const { metrics } = this.context;
    try {
      this.ensureLeader();
    } catch (error) {
      metrics.proposalsRefused++;
      return Promise.reject(error);
    }
    let result: ReturnType<RaftCore["propose"]>;
    try {
      this.checkPending();
      result = this.context.core().propose(data);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!result.ok) {
      metrics.proposalsRefused++;
      return Promise.reject(this.context.refusals.refusal(result, "the write"));
    }
    metrics.proposals++;
    if (tracing) stamp(TracePoint.proposed, result.index);
    this.context.wake();
    return this.context.proposals.wait(result.index, result.term, true);
  }

  /**
   * proposeRequest: a validated KvRequest as a v2 entry (with its request id, which the state machine dedups);
   * resolves with the state machine's answer once applied here.
   */
  async proposeRequest(request: KvRequest, requestId?: string): Promise<Applied> {
    return this.propose(encodeRequest(request, requestId));
  }

  /** proposeConf appends a configuration change and resolves once it is applied; `what` names it in errors. */
  async proposeConf(change: ConfChange, what: string): Promise<void> {
    this.ensureLeader();
    this.checkPending();
    const result = this.context.core().proposeConfChange(change);
    if (!result.ok) throw this.context.refusals.refusal(result, what);
    this.context.wake();
    await this.context.proposals.wait(result.index, result.term);
  }

  /**
   * offerConf: a membership task's change (promotion, own address update) as the leader, without waiting:
   * true when it was appended; a refused one is offered again on the task's own clock.
   */
  offerConf(change: ConfChange): boolean {
    const result = this.context.core().proposeConfChange(change);
    this.context.wake();
    return result.ok;
  }

  /** read: linearizable (ReadIndex, any node: a follower asks the leader) or stale (the local map). */
  async read(key: string, consistency: Consistency): Promise<{ value: string } | null> {
    const { metrics, kv } = this.context;
    this.context.ensureRunning();
    const valueOf = () => {
      const value = kv.get(key);
      return value === undefined ? null : { value };
    };
    if (consistency === "stale") {
      metrics.readsStale++;
      return valueOf();
    }
    const answer = await this.linearizable(valueOf);
    metrics.readsLinearizable++;
    return answer;
  }

  /**
   * readKv: as read, with the key's revisions and version and the store revision at the moment of the read. Not
   * async (the hot GET /kv: no extra promise between the read round and the caller); it still never throws, a
   * refusal comes back as a rejected promise.
   */
  readKv(key: string, consistency: Consistency): Promise<{ kv: KeyValue; revision: number } | null> {
    try {
      this.context.ensureRunning();
      if (consistency === "stale") {
        this.context.metrics.readsStale++;
        return Promise.resolve(this.kvNow(key));
      }
      return this.linearizable(this.serveKv, key);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** kvNow: the key's kv and the store revision, taken together, synchronously. */
  private kvNow(key: string): { kv: KeyValue; revision: number } | null {
    const { kv } = this.context;
    const found = kv.getKv(key);
    return found === null ? null : { kv: found, revision: kv.revision };
  }

  /** serveKv answers a linearizable readKv at its read point (made once: no closure per read). */
  private readonly serveKv = (key: string): { kv: KeyValue; revision: number } | null => {
    this.context.metrics.readsLinearizable++;
    return this.kvNow(key);
  };

  /**
   * confirmLeader: as leader, one ReadIndex round (a majority still follows us, so no other leader was elected
   * before the round began) and the wait for its apply. Leases answer keepalives only after it.
   */
  async confirmLeader(): Promise<void> {
    this.ensureLeader();
    await this.linearizable(() => undefined);
    if (this.context.core().softState().role !== "leader") throw this.context.refusals.notLeaderError();
  }

  /**
   * range: a validated range, linearizable (ReadIndex first, as readKv) or stale; served from the local store
   * (a `revision` from its history). Throws compacted / future_revision as the store decides.
   */
  async range(request: RangeRequest, consistency: Consistency): Promise<RangeResponse> {
    const { metrics, kv } = this.context;
    this.context.ensureRunning();
    if (consistency === "stale") metrics.readsStale++;
    else {
      await this.linearizable(() => undefined);
      metrics.readsLinearizable++;
    }
    return kv.range(request);
  }

  /**
   * linearizable: a ReadIndex read (the node confirms the leader's commit index, waits for its apply), answered by
   * `serve` reading the store then (Reads.read). Throws at once when there is no leader or no quorum.
   */
  private linearizable<T>(serve: () => T): Promise<T>;
  private linearizable<A, T>(serve: (arg: A) => T, arg: A): Promise<T>;
  private linearizable<A, T>(serve: (arg: A) => T, arg?: A): Promise<T> {
    const { refusals } = this.context;
    const soft = this.context.core().softState();
    if (soft.leaderId === 0) throw refusals.noLeaderError();
    if (soft.role === "leader" && !this.context.peers.quorumReachable(soft.membership.voters)) throw refusals.noQuorumError();
    return this.context.reads.read(serve, arg as A);
  }

  /** ensureLeader throws the fast refusal a request gets on a node that cannot serve it as leader. */
  ensureLeader(): void {
    this.context.ensureRunning();
    const soft = this.context.core().softState();
    if (soft.role !== "leader") throw this.context.refusals.notLeaderError();
    if (!this.context.peers.quorumReachable(soft.membership.voters)) throw this.context.refusals.noQuorumError();
  }

  private checkPending(): void {
    const { proposals, metrics } = this.context;
    if (proposals.size >= limits.pending_requests_max) {
      metrics.proposalsRefused++;
      throw this.context.refusals.overloadedError(`too many requests pending (${proposals.size})`);
    }
  }
}
