import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";

interface Reader {
  /** key: whose value the read answers; null when the caller only waits for the read point (readKv, range). */
  key: string | null;
  deadline: number;
  resolve(value: { value: string } | null): void;
  reject(error: QklzlError): void;
}

interface Round {
  ctx: string;
  startedAt: number;
  readers: Reader[];
}

export interface ReadsContext {
  /** readIndex asks the core for a read point: null when the round started, else the error its readers get. */
  readIndex(ctx: string): QklzlError | null;
  applied(): number;
  get(key: string): string | undefined;
  /** roundFailed builds the error for readers whose round failed (leadership changed under them). */
  roundFailed(): QklzlError;
}

/**
 * Reads batches linearizable reads: reads that arrive while a ReadIndex round is in flight wait for the next
 * round and share it (one heartbeat round serves them all). A round answers a read index; its readers are
 * served once this node applied up to it (thesis §6.4). A round that stays silent longer than roundStaleMs no
 * longer holds the queue back (its readers still get its answer, or their deadline).
 */
export class Reads {
  private queued: Reader[] = [];
  private readonly rounds = new Map<string, Round>();
  /** current is the round new readers are waiting behind, null when none is in flight. */
  private current: Round | null = null;
  /** Readers whose read index is known, waiting for apply, in increasing index order. */
  private waitingApply: Array<{ index: number; readers: Reader[] }> = [];
  private nextCtx = 1;
  private pending = 0;
  private kickScheduled = false;
  roundsStarted = 0;

  constructor(
    private readonly context: ReadsContext,
    private readonly options: { timeoutMs: number; roundStaleMs: number; prefix: string },
  ) {
    assert(options.timeoutMs > 0 && options.roundStaleMs > 0, "reads: positive timeouts");
  }

  get size(): number {
    return this.pending;
  }

  /** read: the value of `key` at a linearizable point; with key null, only that point (resolves null). */
  read(key: string | null): Promise<{ value: string } | null> {
    if (this.pending >= limits.pending_reads_max) {
      return Promise.reject(new QklzlError("overloaded", `too many reads pending (${this.pending}); retry shortly`, { retry_after_s: 1 }));
    }
    return new Promise((resolve, reject) => {
      this.pending++;
      const done = <T>(fn: (value: T) => void) => (value: T) => {
        this.pending--;
        fn(value);
      };
      this.queued.push({ key, deadline: performance.now() + this.options.timeoutMs, resolve: done(resolve), reject: done(reject) });
      this.kickSoon();
    });
  }

  /** kick starts a round for the queued readers unless one is already in flight (and not stale). */
  kick(): void {
    if (this.queued.length === 0) return;
    const now = performance.now();
    if (this.current !== null && now - this.current.startedAt < this.options.roundStaleMs) return;
    const ctx = `${this.options.prefix}${this.nextCtx++}`;
    const round: Round = { ctx, startedAt: now, readers: this.queued };
    this.queued = [];
    const refused = this.context.readIndex(ctx);
    if (refused !== null) {
      for (const reader of round.readers) reader.reject(refused);
      this.current = null;
      return;
    }
    this.roundsStarted++;
    this.rounds.set(ctx, round);
    this.current = round;
  }

  /** onReadState: the core answered round `ctx` with `index` (-1: the round failed). */
  onReadState(ctx: string, index: number): void {
    const round = this.rounds.get(ctx);
    if (round === undefined) return; // not ours, or already timed out
    this.rounds.delete(ctx);
    if (this.current === round) this.current = null;
    if (index < 0) {
      const error = this.context.roundFailed();
      for (const reader of round.readers) reader.reject(error);
    } else if (index <= this.context.applied()) {
      this.serve(round.readers);
    } else {
      this.waitingApply.push({ index, readers: round.readers });
      this.waitingApply.sort((a, b) => a.index - b.index);
    }
    this.kickSoon();
  }

  /**
   * kickSoon starts the next round at the end of this event-loop turn rather than now: the reads that arrive in
   * the same turn (one poll of the HTTP sockets, the answers this round just released) share one heartbeat round
   * instead of the first of them starting a round alone. A round still starts only after its readers arrived.
   */
  private kickSoon(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      this.kick();
    });
  }

  /** onApplied serves the readers whose read index is now applied. */
  onApplied(applied: number): void {
    while (this.waitingApply.length > 0 && this.waitingApply[0]!.index <= applied) {
      this.serve(this.waitingApply.shift()!.readers);
    }
  }

  private serve(readers: Reader[]): void {
    for (const reader of readers) {
      const value = reader.key === null ? undefined : this.context.get(reader.key);
      reader.resolve(value === undefined ? null : { value });
    }
  }

  /** sweep times out readers past their deadline and retries a stale round's queue (called every tick). */
  sweep(now: number): void {
    const expired = (reader: Reader) => reader.deadline <= now;
    const error = () => new QklzlError("timeout", `timed out: the linearizable read got no answer within ${this.options.timeoutMs} ms`);
    const keep = (readers: Reader[]) => {
      const live: Reader[] = [];
      for (const reader of readers) {
        if (expired(reader)) reader.reject(error());
        else live.push(reader);
      }
      return live;
    };
    this.queued = keep(this.queued);
    for (const [ctx, round] of this.rounds) {
      round.readers = keep(round.readers);
      if (round.readers.length === 0) {
        this.rounds.delete(ctx);
        if (this.current === round) this.current = null;
      }
    }
    this.waitingApply = this.waitingApply.map((w) => ({ index: w.index, readers: keep(w.readers) })).filter((w) => w.readers.length > 0);
    this.kick();
  }

  failAll(error: QklzlError): void {
    const all = [...this.queued, ...[...this.rounds.values()].flatMap((r) => r.readers), ...this.waitingApply.flatMap((w) => w.readers)];
    this.queued = [];
    this.rounds.clear();
    this.waitingApply = [];
    this.current = null;
    for (const reader of all) reader.reject(error);
  }
}
