import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";

interface Reader {
  /** serve(arg) reads the store once the read point is applied here; what it returns (or throws) answers the read. */
  serve: (arg: never) => unknown;
  arg: unknown;
  deadline: number;
  resolve(value: unknown): void;
  reject(error: unknown): void;
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
  /**
   * turnDeadline: the deadline of the reads that arrive in this event-loop turn (one clock read per turn, not per
   * read); valid until the turn's immediate (kickSoon, which every read schedules) runs.
   */
  private turnDeadline = 0;
  private turnDeadlineSet = false;
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

  /**
   * read: `serve(arg)`'s answer at a linearizable point: serve runs synchronously once this node applied the
   * round's read index (any later state is as good: it is still committed), so the store is read in the same turn
   * the read point is reached and the caller needs no further hop. (serve and arg apart: the hot GET /kv passes a
   * function made once and its key, no closure per read.)
   */
  read<T>(serve: () => T): Promise<T>;
  read<A, T>(serve: (arg: A) => T, arg: A): Promise<T>;
  read<A, T>(serve: (arg: A) => T, arg?: A): Promise<T> {
    if (this.pending >= limits.pending_reads_max) {
      return Promise.reject(new QklzlError("overloaded", `too many reads pending (${this.pending}); retry shortly`, { retry_after_s: 1 }));
    }
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    this.pending++;
    // The reads of one turn share a deadline, taken when the first of them arrived.
    if (!this.turnDeadlineSet) {
      this.turnDeadline = performance.now() + this.options.timeoutMs;
      this.turnDeadlineSet = true;
    }
    this.queued.push({ serve, arg, deadline: this.turnDeadline, resolve: resolve as (value: unknown) => void, reject });
    this.kickSoon();
    return promise;
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
      this.fail(round.readers, refused);
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
      this.fail(round.readers, this.context.roundFailed());
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
      this.turnDeadlineSet = false;
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
    this.pending -= readers.length;
    for (const reader of readers) {
      let answer: unknown;
      try {
        answer = (reader.serve as (arg: unknown) => unknown)(reader.arg);
      } catch (error) {
        reader.reject(error);
        continue;
      }
      reader.resolve(answer);
    }
  }

  private fail(readers: Reader[], error: unknown): void {
    this.pending -= readers.length;
    for (const reader of readers) reader.reject(error);
  }

  /** sweep times out readers past their deadline and retries a stale round's queue (called every tick). */
  sweep(now: number): void {
    const error = () => new QklzlError("timeout", `timed out: the linearizable read got no answer within ${this.options.timeoutMs} ms`);
    const keep = (readers: Reader[]) => {
      const live: Reader[] = [];
      for (const reader of readers) {
        if (reader.deadline <= now) this.fail([reader], error());
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
    this.fail(all, error);
  }
}
