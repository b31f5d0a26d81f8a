import { KvStateMachine, validateTxn } from "../../src/kv/index.ts";
import type { Compare, KvRequest, KvResponse, RangeRequest, RequestOp, StoreOptions, TxnRequest } from "../../src/kv/index.ts";
import { isQklzlError } from "../../src/shared/errors.ts";
import { limits } from "../../src/shared/limits.ts";
import { Model, Refusal } from "./mvcc_model.ts";

/**
 * Model-based test: random puts, deletes, ranges with every option, txns (nested, failing compares,
 * duplicates, too many ops), compactions, reads at old revisions, events, request-id retries and
 * snapshot + restore (with writes while the image streams) against the naive model of mvcc_model.ts,
 * compared after every step. MVCC_SEEDS=N runs N seeds (default 1000, MVCC_STEPS steps each, default 40), MVCC_SEED=S replays one.
 */
export const steps = Number(process.env.MVCC_STEPS ?? 40);

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

// Keys chosen to exercise the order: prefixes, a code point above U+FFFF (surrogates) against U+E000.
const KEYS = ["a", "ab", "abc", "b", "ba", "c", "\u{1F600}", "\uE000", "é"];
const VALUES = ["", "x", "y", "zz", "long-value-" + "q".repeat(20), "ü"];

class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  /** span: one key, [key, end), a prefix end, or from-key. */
  span(): { key: string; range_end?: string } {
    const key = this.pick(KEYS);
    const kind = this.int(4);
    if (kind === 0) return { key };
    if (kind === 1) return { key, range_end: this.pick(KEYS) };
    if (kind === 2) return { key, range_end: key.slice(0, -1) + String.fromCodePoint(key.codePointAt(key.length - 1)! + 1) };
    return { key: this.chance(0.3) ? "\0" : key, range_end: "\0" };
  }
  revision(m: Model): number {
    return this.chance(0.4) ? 0 : Math.max(0, m.compacted - 1 + this.int(m.revision - m.compacted + 3));
  }
  range(m: Model): RangeRequest {
    const q: RangeRequest = { ...this.span() };
    if (this.chance(0.4)) q.limit = this.int(4);
    const rev = this.revision(m);
    if (rev > 0) q.revision = rev;
    if (this.chance(0.4)) q.sort_target = this.pick(["key", "create", "mod", "version", "value"] as const);
    if (this.chance(0.4)) q.sort_order = this.pick(["none", "asc", "desc"] as const);
    if (this.chance(0.2)) q.keys_only = true;
    if (this.chance(0.1)) q.count_only = true;
    if (this.chance(0.15)) q.min_mod_revision = this.int(m.revision + 1);
    if (this.chance(0.15)) q.max_mod_revision = this.int(m.revision + 1);
    if (this.chance(0.15)) q.min_create_revision = this.int(m.revision + 1);
    if (this.chance(0.15)) q.max_create_revision = this.int(m.revision + 1);
    return q;
  }
  put(): RequestOp {
    const put: { key: string; value: string; prev_kv?: boolean; lease?: number; ignore_value?: boolean; ignore_lease?: boolean } = {
      key: this.pick(KEYS),
      value: this.pick(VALUES),
    };
    if (this.chance(0.4)) put.prev_kv = true;
    if (this.chance(0.3)) put.lease = this.int(4);
    if (this.chance(0.1)) {
      put.ignore_value = true;
      put.value = "";
    }
    if (this.chance(0.1)) put.ignore_lease = true;
    return { put };
  }
  del(): RequestOp {
    return { delete_range: { ...this.span(), ...(this.chance(0.5) ? { prev_kv: true } : {}) } };
  }
  compare(m: Model): Compare {
    const target = this.pick(["value", "version", "create", "mod", "lease"] as const);
    const value = target === "value" ? this.pick(VALUES) : target === "lease" ? this.int(4) : this.int(m.revision + 2);
    const span = this.chance(0.7) ? { key: this.pick(KEYS) } : this.span();
    return { ...span, target, result: this.pick(["=", "!=", "<", ">"] as const), value };
  }
  ops(m: Model, depth: number): RequestOp[] {
    const out: RequestOp[] = [];
    for (let n = this.int(4); n > 0; n--) {
      const kind = this.int(depth < 2 ? 4 : 3);
      out.push(kind === 0 ? this.put() : kind === 1 ? this.del() : kind === 2 ? { range: this.range(m) } : { txn: this.txn(m, depth + 1) });
    }
    return out;
  }
  txn(m: Model, depth = 1): TxnRequest {
    if (depth === 1 && this.chance(0.02)) {
      return { compare: [], success: Array.from({ length: limits.txn_ops_max + 1 }, () => ({ range: { key: "a" } })), failure: [] };
    }
    return {
      compare: Array.from({ length: this.int(3) }, () => this.compare(m)),
      success: this.ops(m, depth),
      failure: this.ops(m, depth),
    };
  }
}

function countOps(t: TxnRequest): number {
  return [...t.success, ...t.failure].reduce((n, op) => n + 1 + ("txn" in op ? countOps(op.txn) : 0), 0);
}

/** outcome runs fn and returns its value, or the code and details of the QklzlError it threw. */
function outcome<T>(fn: () => T): T | { error: string; details: unknown } {
  try {
    return fn();
  } catch (error) {
    if (error instanceof Refusal) return { error: error.error, details: error.details };
    if (!isQklzlError(error)) throw error;
    return { error: error.code, details: error.details };
  }
}

/** comparable: a response without error messages (the model does not word them). */
function comparable(r: KvResponse): KvResponse {
  return r.kind === "error" ? { kind: "error", error: { error: r.error.error, message: "", details: r.error.details } } : r;
}

function expectSame(what: string, actual: unknown, expected: unknown, trail: string[]): void {
  if (!Bun.deepEquals(actual, expected, true)) {
    throw new Error(`${what} differs\nactual:   ${JSON.stringify(actual)}\nexpected: ${JSON.stringify(expected)}\nsteps:\n${trail.slice(-8).join("\n")}`);
  }
}

/** checkState compares everything readable: every key at the current and at one readable old revision. */
function checkState(sm: KvStateMachine, m: Model, g: Gen, trail: string[]): void {
  expectSame("revision", [sm.revision, sm.compactedRevision, sm.size], [m.revision, m.compacted, m.liveKeys()], trail);
  const all: RangeRequest = { key: "\0", range_end: "\0" };
  expectSame("all keys", sm.range(all), m.range(all), trail);
  const old = Math.max(1, m.compacted) + g.int(m.revision - Math.max(1, m.compacted) + 1);
  expectSame(`all keys at ${old}`, sm.range({ ...all, revision: old }), m.range({ ...all, revision: old }), trail);
}

export async function runSeed(seed: number): Promise<void> {
  const g = new Gen(rng(seed));
  const options = {
    retentionRevisions: g.pick([0, 0, 5, 20]),
    historyBytesMax: g.pick([limits.history_bytes_max, 600]),
    rangeBytesMax: g.pick([limits.range_response_bytes_max, 40]),
  } satisfies StoreOptions;
  const model = new Model({ ...options, txnOpsMax: limits.txn_ops_max });
  let sm = new KvStateMachine(options);
  // The twin gets the same entries and is never restored: a restored machine must go on exactly like it.
  const twin = new KvStateMachine(options);
  let index = 0;
  const trail: string[] = [`seed ${seed} options ${JSON.stringify(options)}`];
  const ids = ["r1", "r2", "r3", "r4"];
  const write = (request: KvRequest) => {
    const id = g.chance(0.2) ? g.pick(ids) : null;
    trail.push(`apply ${JSON.stringify(request)} id ${id}`);
    index++;
    const revisionBefore = model.revision;
    const fed: unknown[] = [];
    sm.onEvents = (revision, events) => fed.push({ revision, events });
    const actual = sm.applyRequest(index, request, id);
    sm.onEvents = null;
    twin.applyRequest(index, request, id);
    const expected = model.apply(request, id);
    expectSame("response", comparable(actual), comparable(expected), trail);
    // The live feed of this write: its revision's events, exactly what history gives back later.
    const live = model.revision > revisionBefore ? [{ revision: model.revision, events: model.events(model.revision, model.revision) }] : [];
    expectSame("events fed", fed, live, trail);
    expectSame("twin hash", sm.stats().hash, twin.stats().hash, trail);
  };
  for (let step = 0; step < steps; step++) {
    const kind = g.int(21);
    if (kind === 20) {
      // Leases 1..3: granted (or refused as lease_exists) and revoked (all their keys deleted in one revision).
      const id = 1 + g.int(3);
      write(g.chance(0.5) ? { kind: "lease_grant", lease_grant: { id, ttl: 10 } } : { kind: "lease_revoke", lease_revoke: { id } });
    } else if (kind < 6) write({ kind: "put", put: (g.put() as { put: never }).put });
    else if (kind < 8) write({ kind: "delete_range", delete_range: (g.del() as { delete_range: never }).delete_range });
    else if (kind < 12) {
      const txn = g.txn(model);
      const got = outcome(() => validateTxn(txn));
      const want =
        countOps(txn) > limits.txn_ops_max ? "too_many_ops" : model.duplicateKey(txn) !== null ? "duplicate_key" : null;
      expectSame(`txn validation of ${JSON.stringify(txn)}`, "error" in got ? got.error : null, want, trail);
      if (want === null) write({ kind: "txn", txn });
    } else if (kind < 13) {
      write({ kind: "compact", compact: { revision: Math.max(1, model.compacted - 1 + g.int(model.revision - model.compacted + 3)) } });
    } else if (kind < 16) {
      const q = g.range(model);
      trail.push(`range ${JSON.stringify(q)}`);
      expectSame(`range ${JSON.stringify(q)}`, outcome(() => sm.range(q)), outcome(() => model.range(q)), trail);
    } else if (kind < 17) {
      const from = model.compacted + 1 + g.int(model.revision - model.compacted);
      const to = from + g.int(4);
      trail.push(`events ${from}..${to}`);
      expectSame(`events ${from}..${to}`, sm.events(from, to), model.events(from, to), trail);
    } else {
      // Snapshot, with writes applied while the image streams; the image shows the state at its start.
      trail.push("snapshot + restore");
      const image = sm.beginSnapshot();
      const atStart = model.clone();
      const statsAtStart = sm.stats();
      for (let n = g.int(4); n > 0; n--) write({ kind: "put", put: (g.put() as { put: never }).put });
      const chunks: Uint8Array[] = [];
      await image.writeTo(async (chunk) => {
        chunks.push(new Uint8Array(chunk));
      });
      const restored = new KvStateMachine(options);
      await restored.restore(Buffer.concat(chunks));
      expectSame("restored stats", restored.stats(), statsAtStart, trail);
      checkState(restored, atStart, g, trail);
      // Go on with a restore of the current state (the twin checks that it behaves the same from here).
      const now = await sm.snapshot();
      sm = new KvStateMachine(options);
      await sm.restore(now.data);
      expectSame("restored stats now", sm.stats(), twin.stats(), trail);
    }
    checkState(sm, model, g, trail);
  }
}

