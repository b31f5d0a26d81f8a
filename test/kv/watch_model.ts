/**
 * A dumb twin of the store's change feed for the watch property tests: a Map and a list of revisions with
 * the events each one made, computed without the store; and the checker of what a watch delivered.
 */
import type { KvRequest, RequestOp } from "../../src/kv/mvcc_types.ts";
import type { WatchFilter, WatchMessage, WatchSpec } from "../../src/kv/watch_hub.ts";

export interface ModelEvent {
  type: "put" | "delete";
  key: string;
  value: string;
  prev: string | undefined;
}

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const model_keys = ["a", "a/1", "a/2", "a/3", "ab", "b", "b/1", "b/2", "c"];

/** FeedModel: the live map and, per revision that changed something, its events in the store's order. */
export class FeedModel {
  readonly live = new Map<string, string>();
  readonly log = new Map<number, ModelEvent[]>();
  revision = 1;
  compacted = 0;

  /** apply mirrors one request the store applies (puts, single-key or range deletes, flat txns, compact). */
  apply(request: KvRequest): void {
    if (request.kind === "compact") {
      this.compacted = request.compact.revision;
      return;
    }
    // The watch model's workload makes no lease requests (the lessor has its own tests).
    if (request.kind === "lease_grant" || request.kind === "lease_revoke" || request.kind === "alarm") throw new Error(`watch model: unexpected ${request.kind}`);
    const events: ModelEvent[] = [];
    const ops: RequestOp[] =
      request.kind === "txn" ? request.txn.success : request.kind === "put" ? [{ put: request.put }] : [{ delete_range: request.delete_range }];
    for (const op of ops) {
      if ("put" in op) {
        events.push({ type: "put", key: op.put.key, value: op.put.value, prev: this.live.get(op.put.key) });
        this.live.set(op.put.key, op.put.value);
      } else if ("delete_range" in op) {
        const { key, range_end } = op.delete_range;
        const hit = [...this.live.keys()].filter((k) => matchKey(k, key, range_end)).sort();
        for (const k of hit) {
          events.push({ type: "delete", key: k, value: "", prev: this.live.get(k) });
          this.live.delete(k);
        }
      }
    }
    if (events.length === 0) return;
    this.revision++;
    this.log.set(this.revision, events);
  }

  /** expected: the revisions from `start` a watch of `spec` must deliver, each with its events. */
  expected(spec: WatchSpec, start: number): Array<{ revision: number; events: ModelEvent[] }> {
    const out: Array<{ revision: number; events: ModelEvent[] }> = [];
    for (let r = start; r <= this.revision; r++) {
      const events = (this.log.get(r) ?? []).filter((e) => matchKey(e.key, spec.key, spec.range_end) && passes(e, spec.filters));
      if (events.length > 0) out.push({ revision: r, events });
    }
    return out;
  }
}

export function matchKey(candidate: string, key: string, rangeEnd: string | undefined): boolean {
  if (rangeEnd === undefined || rangeEnd === "") return candidate === key;
  return candidate >= key && (rangeEnd === "\0" || candidate < rangeEnd);
}

function passes(event: ModelEvent, filters: WatchFilter[] | undefined): boolean {
  if (filters === undefined) return true;
  return !(event.type === "put" ? filters.includes("noput") : filters.includes("nodelete"));
}

/**
 * checkDelivery checks what one logical watch received (across reconnections, concatenated) against the
 * model: exactly the expected revisions in order, each whole and once, progress headers never ahead of an
 * undelivered revision, and a cancel only as the last message (compacted: only when the next revision it
 * needed is at or below compact_revision). `complete`: the watch ran to the end, so nothing may be missing.
 * Returns the failure, or null.
 */
export function checkDelivery(
  model: FeedModel,
  spec: WatchSpec,
  start: number,
  received: WatchMessage[],
  complete: boolean,
): string | null {
  const expected = model.expected(spec, start);
  let pos = 0;
  for (let m = 0; m < received.length; m++) {
    const msg = received[m]!;
    if (msg.type === "cancel") {
      if (m !== received.length - 1) return `cancel at ${m} is not the last message`;
      if (msg.reason !== "compacted") return `unexpected cancel ${msg.reason}`;
      const next = expected[pos]?.revision ?? Number.POSITIVE_INFINITY;
      if (next <= msg.revision) return `cancel at revision ${msg.revision} but revision ${next} was never delivered`;
      if (!(msg.revision + 1 <= (msg.compact_revision ?? -1))) return `cancelled as compacted at ${msg.revision} with compact_revision ${msg.compact_revision}`;
      return null;
    }
    if (msg.type === "progress") {
      const next = expected[pos];
      if (next !== undefined && next.revision <= msg.revision) return `progress ${msg.revision} before revision ${next.revision} was delivered`;
      continue;
    }
    const want = expected[pos];
    if (want === undefined) return `revision ${msg.revision} delivered past the end (or twice)`;
    if (want.revision !== msg.revision) return `delivered revision ${msg.revision}, expected ${want.revision} (skipped, duplicated or out of order)`;
    if (want.events.length !== msg.events.length) return `revision ${msg.revision}: ${msg.events.length} events, expected ${want.events.length} (a txn split?)`;
    for (let i = 0; i < want.events.length; i++) {
      const w = want.events[i]!;
      const got = msg.events[i]!;
      if (got.type !== w.type || got.kv.key !== w.key || got.kv.mod_revision !== msg.revision) {
        return `revision ${msg.revision} event ${i}: got ${got.type} ${got.kv.key}@${got.kv.mod_revision}, expected ${w.type} ${w.key}`;
      }
      if (w.type === "put" && got.kv.value !== w.value) return `revision ${msg.revision}: value ${got.kv.value}, expected ${w.value}`;
      if (spec.prev_kv === true) {
        if ((got.prev_kv?.value ?? undefined) !== w.prev) return `revision ${msg.revision}: prev_kv ${got.prev_kv?.value}, expected ${w.prev}`;
      } else if (got.prev_kv !== undefined) {
        return `revision ${msg.revision}: prev_kv sent though not asked for`;
      }
    }
    pos++;
  }
  if (complete && pos !== expected.length) return `missing revisions from ${expected[pos]!.revision} (${expected.length - pos} of ${expected.length})`;
  return null;
}
