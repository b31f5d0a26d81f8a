import { assert } from "../shared/assert.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import { inRange, isRange } from "./key_order.ts";
import type { Event } from "./mvcc_types.ts";

/**
 * WatchSource is what the hub reads: the store's revisions, its history (events of revisions in [from, to],
 * whole revisions in order) and the live feed of apply (one call per revision, all its events together).
 * KvStateMachine is one. The hub sets `onEvents` only while it has watches (no event work for nobody).
 */
export interface WatchSource {
  readonly revision: number;
  readonly compactedRevision: number;
  events(from: number, to: number, max?: number): Event[];
  onEvents: ((revision: number, events: Event[]) => void) | null;
}

export type WatchFilter = "noput" | "nodelete";

/**
 * WatchSpec: one key (`range_end` absent or ""), [key, range_end), or from-key (range_end "\0").
 * start_revision 0 (or absent) starts after the current revision; R > 0 replays history from R first.
 */
export interface WatchSpec {
  key: string;
  range_end?: string;
  start_revision?: number;
  prev_kv?: boolean;
  filters?: WatchFilter[];
}

export type WatchCancelReason = "compacted" | "cancelled" | "shutting_down";

/**
 * WatchMessage is what a watch delivers, in order. `events`: every matching event of one revision (a txn's
 * events together, never split). `progress`: every matching event of a revision <= `revision` was delivered
 * before it (resuming from revision + 1 is exact). `cancel` is the last message of a watch.
 */
export type WatchMessage =
  | { type: "events"; revision: number; events: Event[] }
  | { type: "progress"; revision: number }
  | { type: "cancel"; reason: WatchCancelReason; message: string; revision: number; compact_revision?: number };

export interface WatchLimits {
  /** bufferEventsMax / bufferBytesMax: what one watch may hold undelivered; past it, it catches up from history. */
  bufferEventsMax: number;
  bufferBytesMax: number;
  /** scanEventsMax: history events one take() reads (a key watch skipping others' events yields in between). */
  scanEventsMax: number;
}

export const default_watch_limits: WatchLimits = {
  bufferEventsMax: limits.watch_buffer_events_max,
  bufferBytesMax: limits.watch_buffer_bytes_max,
  scanEventsMax: limits.watch_scan_events_max,
};

export interface TakeResult {
  messages: WatchMessage[];
  /** more: history is still to be read; call take again soon (after yielding), without waiting for a wake. */
  more: boolean;
}

/**
 * Watch is one subscriber. The consumer calls take() whenever it can send; `onWake` is called (synchronously,
 * from apply: it must only schedule) when a message is queued into an empty buffer.
 */
export interface Watch {
  readonly id: number;
  /** createdRevision: the store revision when the watch was created (etcd's created header). */
  readonly createdRevision: number;
  readonly closed: boolean;
  onWake: (() => void) | null;
  take(): TakeResult;
  /** requestProgress queues a progress message (etcd's RequestProgress; also the periodic progress_notify). */
  requestProgress(): void;
  /** cancel ends the watch now (the client went away); nothing more is queued. */
  cancel(): void;
}

/** eventBytes: an estimate of what an event costs held (string lengths plus a fixed overhead per object). */
function eventBytes(event: Event): number {
  let bytes = 64 + event.kv.key.length + event.kv.value.length;
  if (event.prev_kv !== undefined) bytes += 64 + event.prev_kv.key.length + event.prev_kv.value.length;
  return bytes;
}

/** without_prev_kv: each event's view without prev_kv, shared by the watches that did not ask for it. */
const without_prev_kv = new WeakMap<Event, Event>();

/**
 * Watcher: one watch's state. Mode `live`: the feed delivers every revision > the hub's fed revision to it,
 * and every revision before that is queued already. Mode `catchup`: revisions from `next` are read from
 * history by take(), which switches it to live synchronously once it read up to the store's revision (so no
 * apply can come between the last history read and the switch: the replay/live handoff). `closed`: done.
 *
 * Invariants: every matching event of a revision < next is queued or delivered, none of a revision >= next;
 * the queue holds at most the limits (one revision may exceed them when the queue is empty: it cannot split).
 */
class Watcher implements Watch {
  mode: "live" | "catchup" | "closed";
  next: number;
  queue: WatchMessage[] = [];
  queuedEvents = 0;
  queuedBytes = 0;
  onWake: (() => void) | null = null;
  readonly rangeEnd: string | undefined;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;

  constructor(
    private readonly hub: WatchHub,
    readonly id: number,
    readonly key: string,
    spec: WatchSpec,
    readonly createdRevision: number,
  ) {
    this.rangeEnd = isRange(spec.range_end) ? spec.range_end : undefined;
    this.noPut = spec.filters?.includes("noput") === true;
    this.noDelete = spec.filters?.includes("nodelete") === true;
    this.prevKv = spec.prev_kv === true;
    const start = spec.start_revision ?? 0;
    this.mode = start === 0 ? "live" : "catchup";
    this.next = start === 0 ? createdRevision + 1 : start;
  }

  get closed(): boolean {
    return this.mode === "closed";
  }

  take(): TakeResult {
    return this.hub.take(this);
  }

  requestProgress(): void {
    this.hub.progress(this);
  }

  cancel(): void {
    this.hub.remove(this);
  }

  matches(key: string): boolean {
    return this.rangeEnd === undefined ? key === this.key : inRange(key, this.key, this.rangeEnd);
  }

  /**
   * select: this watch's view of one event (filtered, prev_kv only if asked), or null. Every watch gets the same
   * object for the same view, so a consumer can encode an event once for all the watches it reaches.
   */
  select(event: Event): Event | null {
    if (event.type === "put" ? this.noPut : this.noDelete) return null;
    if (this.prevKv || event.prev_kv === undefined) return event;
    let view = without_prev_kv.get(event);
    if (view === undefined) without_prev_kv.set(event, (view = { type: event.type, kv: event.kv }));
    return view;
  }

  /** fits: a revision of `events` events and `bytes` bytes may be queued now. */
  fits(events: number, bytes: number): boolean {
    if (this.queue.length === 0) return true;
    return this.queuedEvents + events <= this.hub.limits.bufferEventsMax && this.queuedBytes + bytes <= this.hub.limits.bufferBytesMax;
  }

  full(): boolean {
    return this.queuedEvents >= this.hub.limits.bufferEventsMax || this.queuedBytes >= this.hub.limits.bufferBytesMax;
  }

  push(message: WatchMessage, events: number, bytes: number): void {
    assert(this.mode !== "closed", "watch: push to a closed watch");
    const wasEmpty = this.queue.length === 0;
    this.queue.push(message);
    this.queuedEvents += events;
    this.queuedBytes += bytes;
    if (wasEmpty) this.onWake?.();
  }
}

/**
 * WatchHub serves watches from one store: history replay, then the live feed, with bounded buffers.
 * Watches on one key are indexed by key (a write looks up only its keys' watchers: 10,000 key watches cost
 * memory proportional to them and nothing per unrelated write); range and prefix watches are in one list
 * every write checks. Nothing here waits, and the feed does O(matching watches) work in apply.
 */
export class WatchHub {
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly ranged = new Set<Watcher>();
  private watchers = 0;
  private nextId = 1;
  /** fedRevision: the store revision as of the last feed call (or attach/resync); live watchers have all before. */
  private fedRevision = 0;
  private readonly feed = (revision: number, events: Event[]) => this.onEvents(revision, events);
  /** resyncs: how often the store moved without the feed (a snapshot installed): live watches caught up. */
  resyncs = 0;
  /** fellBehind: live watches whose buffer was full, sent back to history; compactedCancels: those it failed. */
  fellBehind = 0;
  compactedCancels = 0;

  constructor(
    private readonly source: WatchSource,
    readonly limits: WatchLimits = default_watch_limits,
  ) {
    assert(limits.bufferEventsMax > 0 && limits.bufferBytesMax > 0, "watch: positive buffer limits");
    assert(limits.scanEventsMax > 0, "watch: positive scan budget");
  }

  get size(): number {
    return this.watchers;
  }

  /** watch creates a watch now (the caller did any read barrier first). Throws bad_request on a bad spec. */
  watch(spec: WatchSpec): Watch {
    const start = spec.start_revision ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw new QklzlError("bad_request", "start_revision must be a non-negative integer");
    if (this.watchers === 0) this.attach();
    this.checkFeed();
    const watcher = new Watcher(this, this.nextId++, spec.key, spec, this.source.revision);
    if (watcher.rangeEnd === undefined) {
      let set = this.byKey.get(watcher.key);
      if (set === undefined) this.byKey.set(watcher.key, (set = new Set()));
      set.add(watcher);
    } else {
      this.ranged.add(watcher);
    }
    this.watchers++;
    return watcher;
  }

  /** closeAll cancels every watch with `reason` (each gets its cancel message). */
  closeAll(reason: WatchCancelReason, message: string): void {
    for (const set of [...this.byKey.values()]) for (const w of [...set]) this.cancelWith(w, reason, message);
    for (const w of [...this.ranged]) this.cancelWith(w, reason, message);
  }

  private attach(): void {
    assert(this.source.onEvents === null || this.source.onEvents === this.feed, "watch: the store's feed is free");
    this.source.onEvents = this.feed;
    this.fedRevision = this.source.revision;
  }

  /** remove unlinks a watch (no message); the last one detaches the feed. */
  remove(w: Watcher): void {
    if (w.mode === "closed") return;
    w.mode = "closed";
    w.onWake = null;
    if (w.rangeEnd === undefined) {
      const set = this.byKey.get(w.key)!;
      set.delete(w);
      if (set.size === 0) this.byKey.delete(w.key);
    } else {
      this.ranged.delete(w);
    }
    this.watchers--;
    assert(this.watchers >= 0, "watch: count stays non-negative");
    if (this.watchers === 0 && this.source.onEvents === this.feed) this.source.onEvents = null;
  }

  private cancelWith(w: Watcher, reason: WatchCancelReason, message: string, details: { compact_revision?: number } = {}): void {
    if (w.mode === "closed") return;
    const revision = w.mode === "live" ? this.fedRevision : w.next - 1;
    w.push({ type: "cancel", reason, message, revision, ...details }, 0, 0);
    const onWake = w.onWake;
    this.remove(w);
    w.onWake = onWake; // the consumer still takes the cancel message
  }

  /**
   * checkFeed: the store's revision moved without the feed (a snapshot was installed over it): the live
   * watches cannot know what changed, so each goes back to catching up from history where it was.
   */
  private checkFeed(): void {
    if (this.watchers === 0 || this.source.revision === this.fedRevision) return;
    this.resync();
  }

  private resync(): void {
    this.resyncs++;
    const all = [...this.ranged];
    for (const set of this.byKey.values()) all.push(...set);
    for (const w of all) {
      if (w.mode !== "live") continue;
      w.mode = "catchup";
      w.next = Math.max(w.next, this.fedRevision + 1);
      w.onWake?.();
    }
    this.fedRevision = this.source.revision;
  }

  /** onEvents is the store's feed: revision's events, right after it applied. Must not throw or wait. */
  private onEvents(revision: number, events: Event[]): void {
    if (revision <= this.fedRevision || (revision !== this.fedRevision + 1 && this.missedHistory(revision))) {
      this.resync(); // fedRevision = revision now: the catching-up watches read this revision from history
      return;
    }
    this.fedRevision = revision;
    if (events.length === 1) {
      const event = events[0]!;
      const set = this.byKey.get(event.kv.key);
      if (set !== undefined) for (const w of set) this.deliverLive(w, revision, [event]);
      for (const w of this.ranged) if (w.matches(event.kv.key)) this.deliverLive(w, revision, [event]);
      return;
    }
    const touched = new Map<Watcher, Event[]>();
    const add = (w: Watcher, event: Event) => {
      const list = touched.get(w);
      if (list === undefined) touched.set(w, [event]);
      else list.push(event);
    };
    for (const event of events) {
      const set = this.byKey.get(event.kv.key);
      if (set !== undefined) for (const w of set) add(w, event);
      for (const w of this.ranged) if (w.matches(event.kv.key)) add(w, event);
    }
    for (const [w, list] of touched) this.deliverLive(w, revision, list);
  }

  /** missedHistory: revisions between the fed one and `revision` changed something (not a v1 revision jump). */
  private missedHistory(revision: number): boolean {
    const from = this.fedRevision + 1;
    if (from <= this.source.compactedRevision) return true;
    return this.source.events(from, revision - 1, 1).length > 0;
  }

  private deliverLive(w: Watcher, revision: number, events: Event[]): void {
    // Only live watches; a watch that starts in the future (next > revision) ignores earlier revisions.
    if (w.mode !== "live" || revision < w.next) return;
    if (!this.queueRevision(w, revision, events)) {
      // Too slow for the live feed: stop here and read from history from this revision once the buffer drains.
      w.mode = "catchup";
      this.fellBehind++;
      return;
    }
  }

  /**
   * queueRevision queues w's view of one revision's events (none: nothing queued) and moves next past it;
   * false (and nothing changed) when it does not fit the buffer.
   */
  private queueRevision(w: Watcher, revision: number, events: Event[]): boolean {
    assert(revision >= w.next, `watch ${w.id}: revision ${revision} queued again (next ${w.next})`);
    const selected: Event[] = [];
    let bytes = 0;
    for (const event of events) {
      const view = w.select(event);
      if (view === null) continue;
      selected.push(view);
      bytes += eventBytes(view);
    }
    if (selected.length > 0) {
      if (!w.fits(selected.length, bytes)) return false;
      w.push({ type: "events", revision, events: selected }, selected.length, bytes);
    }
    w.next = revision + 1;
    return true;
  }

  /** progress queues a header: every matching event up to its revision is queued before it. */
  progress(w: Watcher): void {
    if (w.mode === "closed") return;
    this.checkFeed();
    const revision = w.mode === "live" ? Math.max(this.fedRevision, w.next - 1) : w.next - 1;
    if (revision < 1) return;
    w.push({ type: "progress", revision }, 0, 16);
  }

  /** take hands the consumer what is queued, reading history first for a catching-up watch. */
  take(w: Watcher): TakeResult {
    if (w.mode !== "closed") {
      this.checkFeed();
      if (w.mode === "catchup") this.catchUp(w);
    }
    const messages = w.queue;
    w.queue = [];
    w.queuedEvents = 0;
    w.queuedBytes = 0;
    return { messages, more: w.mode === "catchup" };
  }

  /**
   * catchUpTarget: the revision a catching-up watch reads history up to before it goes live: the store's
   * revision *now*, in the same synchronous step as the switch (a revision captured earlier would skip the
   * revisions applied since). A seam for the test that plants that bug.
   */
  protected catchUpTarget(_w: Watch): number {
    return this.source.revision;
  }

  private catchUp(w: Watcher): void {
    let budget = this.limits.scanEventsMax;
    while (w.mode === "catchup") {
      const target = this.catchUpTarget(w);
      if (w.next > target) {
        w.mode = "live"; // nothing can apply between the read up to `target` and this line
        return;
      }
      const compacted = this.source.compactedRevision;
      if (w.next <= compacted) {
        this.compactedCancels++;
        this.cancelWith(w, "compacted", `the history from revision ${w.next} is compacted (compacted revision ${compacted}); re-read and watch from ${compacted + 1} or later`, {
          compact_revision: compacted,
        });
        return;
      }
      if (budget <= 0 || w.full()) return;
      const { events, last } = this.readRevisions(w.next, target, Math.min(budget, this.limits.bufferEventsMax));
      budget -= Math.max(1, events.length);
      let i = 0;
      while (i < events.length) {
        const revision = events[i]!.kv.mod_revision;
        let j = i;
        while (j < events.length && events[j]!.kv.mod_revision === revision) j++;
        const mine = events.slice(i, j).filter((event) => w.matches(event.kv.key));
        if (!this.queueRevision(w, revision, mine)) return; // buffer full: resume from `revision`
        i = j;
      }
      w.next = last + 1;
    }
  }

  /** readRevisions reads whole revisions from `from`: the events and the last revision they cover (<= to). */
  private readRevisions(from: number, to: number, max: number): { events: Event[]; last: number } {
    const events = this.source.events(from, to, max);
    if (events.length < max) return { events, last: to };
    const lastRev = events[events.length - 1]!.kv.mod_revision;
    if (events[0]!.kv.mod_revision === lastRev) return { events: this.source.events(lastRev, lastRev), last: lastRev };
    let end = events.length;
    while (events[end - 1]!.kv.mod_revision === lastRev) end--;
    return { events: events.slice(0, end), last: lastRev - 1 };
  }
}
