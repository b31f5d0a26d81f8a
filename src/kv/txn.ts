import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import { compareKeys, inRange } from "./key_order.ts";
import type { MvccStore, WriteTxn } from "./mvcc_store.ts";
import type { Compare, KeyValue, RequestOp, ResponseOp, TxnRequest, TxnResponse } from "./mvcc_types.ts";

/**
 * checkTxnLimits: at most opsMax operations (--max-txn-ops, default txn_ops_max; both lists, nested txns and
 * their contents included) and as many compares, at most txn_depth_max levels; then no key written twice on any path the txn can take:
 * duplicate_key when one path puts a key twice, or puts a key inside a range it deletes (deletes may
 * overlap). etcd's checkIntervals, without its dependence on the order of nested txns.
 */
export function checkTxnLimits(txn: TxnRequest, opsMax: number = limits.txn_ops_max): void {
  const counts = { ops: 0, compares: 0 };
  countOps(txn, counts, 1);
  if (counts.ops > opsMax) {
    throw new QklzlError("too_many_ops", `the txn has ${counts.ops} operations; the maximum is ${opsMax}`);
  }
  if (counts.compares > opsMax) {
    throw new QklzlError("too_many_ops", `the txn has ${counts.compares} compares; the maximum is ${opsMax}`);
  }
  writesOf(txn.success);
  writesOf(txn.failure);
}

function countOps(txn: TxnRequest, counts: { ops: number; compares: number }, depth: number): void {
  if (depth > limits.txn_depth_max) {
    throw new QklzlError("too_many_ops", `txns are nested deeper than ${limits.txn_depth_max} levels`);
  }
  counts.compares += txn.compare.length;
  for (const op of [...txn.success, ...txn.failure]) {
    counts.ops++;
    if ("txn" in op) countOps(op.txn, counts, depth + 1);
  }
}

/** Writes: the keys an operation may put and the ranges it may delete (over both branches of a txn). */
interface Writes {
  puts: string[];
  dels: { key: string; end: string | undefined }[];
}

function duplicate(key: string): never {
  throw new QklzlError("duplicate_key", `key ${JSON.stringify(key)} is written more than once in the txn`, { key });
}

/**
 * writesOf checks one list of operations and returns what it may write. Two different operations of a list
 * always run together, so neither may put a key the other puts or deletes; the two branches of a nested
 * txn exclude each other, so only each branch is checked within (recursively), then both count for the
 * txn as a whole (any branch of one op combines with any branch of another).
 */
function writesOf(ops: RequestOp[]): Writes {
  const each: Writes[] = ops.map((op) => {
    if ("put" in op) return { puts: [op.put.key], dels: [] };
    if ("delete_range" in op) return { puts: [], dels: [{ key: op.delete_range.key, end: op.delete_range.range_end }] };
    if ("txn" in op) {
      const then = writesOf(op.txn.success);
      const otherwise = writesOf(op.txn.failure);
      return { puts: [...then.puts, ...otherwise.puts], dels: [...then.dels, ...otherwise.dels] };
    }
    return { puts: [], dels: [] };
  });
  const putBy = new Map<string, number>();
  each.forEach((w, i) => {
    for (const key of new Set(w.puts)) {
      if (putBy.has(key)) duplicate(key);
      putBy.set(key, i);
    }
  });
  each.forEach((w, i) => {
    for (const d of w.dels) {
      for (const [key, by] of putBy) if (by !== i && inRange(key, d.key, d.end)) duplicate(key);
    }
  });
  return { puts: each.flatMap((w) => w.puts), dels: each.flatMap((w) => w.dels) };
}

/** Path: which branch each txn takes, decided on the state before the txn writes (as etcd's compareToPath). */
interface Path {
  succeeded: boolean;
  nested: Path[];
}

function choosePath(store: MvccStore, txn: TxnRequest): Path {
  const succeeded = txn.compare.every((c) => compareHolds(store, c));
  const nested: Path[] = [];
  for (const op of succeeded ? txn.success : txn.failure) if ("txn" in op) nested.push(choosePath(store, op.txn));
  return { succeeded, nested };
}

/**
 * compareHolds: every key of the target satisfies the compare. With no key there, a value compare is false
 * and the others compare against zero (version 0 = absent, lease 0 = none): etcd's applyCompare.
 */
export function compareHolds(store: MvccStore, compare: Compare): boolean {
  const kvs: KeyValue[] = store.liveKvs(compare.key, compare.range_end);
  if (kvs.length === 0) {
    if (compare.target === "value") return false;
    return holds(compare, 0);
  }
  return kvs.every((kv) => {
    if (compare.target === "value") return holds(compare, compareKeys(kv.value, String(compare.value)), true);
    return holds(compare, compareField(kv, compare.target));
  });
}

/** compareField: the number a non-value compare reads from a live key (a key with no lease has lease 0). */
function compareField(kv: KeyValue, target: Exclude<Compare["target"], "value">): number {
  switch (target) {
    case "version":
      return kv.version;
    case "create":
      return kv.create_revision;
    case "mod":
      return kv.mod_revision;
    case "lease":
      return kv.lease;
  }
}

/** holds: `actual` against compare.value (or, for a value compare, an already computed order `actual`). */
function holds(compare: Compare, actual: number, ordered = false): boolean {
  const diff = ordered ? actual : actual - Number(compare.value);
  switch (compare.result) {
    case "=":
      return diff === 0;
    case "!=":
      return diff !== 0;
    case "<":
      return diff < 0;
    case ">":
      return diff > 0;
  }
}

/** precheck throws, before anything is written, what would fail on the chosen path (so a txn is atomic). */
function precheck(store: MvccStore, txn: TxnRequest, path: Path): void {
  let n = 0;
  for (const op of path.succeeded ? txn.success : txn.failure) {
    if ("range" in op) store.checkRevision(op.range.revision ?? 0);
    else if ("put" in op) store.checkPut(op.put);
    else if ("txn" in op) precheck(store, op.txn, path.nested[n++]!);
  }
}

/**
 * applyTxn runs a txn as one revision (none if it writes nothing): compares and branches on the state
 * before it, then its operations in order (a range sees the txn's earlier writes). Refusals (compacted,
 * future_revision, key_not_found of ignore_value) throw before any write. Every response carries the txn's
 * revision.
 */
export function applyTxn(store: MvccStore, txn: TxnRequest, write: WriteTxn): TxnResponse {
  const path = choosePath(store, txn);
  precheck(store, txn, path);
  return runPath(store, txn, path, write);
}

function runPath(store: MvccStore, txn: TxnRequest, path: Path, write: WriteTxn): TxnResponse {
  const responses: ResponseOp[] = [];
  let n = 0;
  for (const op of path.succeeded ? txn.success : txn.failure) {
    if ("range" in op) responses.push({ range: store.range(op.range) });
    else if ("put" in op) responses.push({ put: store.put(write, op.put) });
    else if ("delete_range" in op) {
      const d = op.delete_range;
      responses.push({ delete_range: store.deleteRange(write, d.key, d.range_end, d.prev_kv === true) });
    } else responses.push({ txn: runPath(store, op.txn, path.nested[n++]!, write) });
  }
  return { succeeded: path.succeeded, responses, revision: 0 };
}

/** stampRevision sets every response's revision in a txn answer to the txn's final revision. */
export function stampRevision(response: TxnResponse, revision: number): void {
  response.revision = revision;
  for (const r of response.responses) {
    if ("range" in r) r.range.revision = revision;
    else if ("put" in r) r.put.revision = revision;
    else if ("delete_range" in r) r.delete_range.revision = revision;
    else stampRevision(r.txn, revision);
  }
}
