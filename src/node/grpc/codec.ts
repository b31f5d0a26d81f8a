import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  TxnResponse,
  WatchCreateRequest,
} from "./backend.ts";
import { storeRange } from "./backend.ts";
import { EtcdError } from "./errors.ts";
import type { ResponseHeader } from "./ids.ts";

// codec.ts converts between the messages proto-loader decodes (keepCase, longs and enums as strings, defaults
// filled, oneofs named) and the plain types of backend.ts. Bytes become UTF-8 strings: qklzl stores strings,
// so a key or value that is not valid UTF-8 is refused here rather than silently altered.

/** Msg: a decoded message; fields are checked where they are read. */
export type Msg = Record<string, unknown>;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** ascii_scan_max: up to this length a key or value is scanned for ASCII here (beyond it TextDecoder's own scan wins). */
const ascii_scan_max = 64;

/** ascii: every byte below 0x80 (ASCII is UTF-8 that decodes byte for byte, as latin1). */
function ascii(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

export function text(value: unknown, field: string): string {
  if (value === undefined || value === null) return "";
  if (!(value instanceof Uint8Array)) throw new EtcdError("bad_request", `${field} must be bytes`);
  // A short ASCII key (most keys): Buffer's latin1 decoding costs less than the fatal TextDecoder per call.
  if (value.length <= ascii_scan_max && value instanceof Buffer && ascii(value)) return value.toString("latin1", 0, value.length);
  try {
    return utf8.decode(value);
  } catch {
    throw new EtcdError("bad_request", `${field} is not valid UTF-8 (qklzl stores keys and values as UTF-8 text)`);
  }
}

export function bytes(value: string): Buffer {
  return Buffer.from(value, "utf8");
}

/** int64: an int64 field (a decimal string) as a number; beyond 2^53 it is refused, not rounded. */
export function int64(value: unknown, field: string): number {
  if (value === undefined || value === null || value === "") return 0;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new EtcdError("bad_request", `${field} ${String(value)} is out of range`);
  return n;
}

function flag(value: unknown): boolean {
  return value === true;
}

const sort_orders: Record<string, SortOrder> = { NONE: "none", ASCEND: "asc", DESCEND: "desc" };
const sort_targets: Record<string, SortTarget> = { KEY: "key", VERSION: "version", CREATE: "create", MOD: "mod", VALUE: "value" };

/**
 * optional: `object` without its unset fields (undefined, "", 0, false, "none"), as a new object in the same
 * key order. Copying beats `delete`, which also turns an object into a slow dictionary for everything after.
 */
function optional<T extends object>(object: T): T {
  const out = {} as T;
  for (const key in object) {
    const v = object[key] as unknown;
    if (!(v === undefined || v === "" || v === 0 || v === false || v === "none")) out[key] = v as T[typeof key];
  }
  return out;
}

export function decodeRange(m: Msg): RangeRequest {
  const full: RangeRequest = {
    key: text(m.key, "key"),
    range_end: text(m.range_end, "range_end"),
    limit: int64(m.limit, "limit"),
    revision: int64(m.revision, "revision"),
    sort_order: sort_orders[String(m.sort_order ?? "NONE")] ?? "none",
    sort_target: sort_targets[String(m.sort_target ?? "KEY")] ?? "key",
    serializable: flag(m.serializable),
    keys_only: flag(m.keys_only),
    count_only: flag(m.count_only),
    min_mod_revision: int64(m.min_mod_revision, "min_mod_revision"),
    max_mod_revision: int64(m.max_mod_revision, "max_mod_revision"),
    min_create_revision: int64(m.min_create_revision, "min_create_revision"),
    max_create_revision: int64(m.max_create_revision, "max_create_revision"),
  };
  if (full.key === "") throw new EtcdError("empty_key", "the range has no key");
  if (full.limit! < 0) throw new EtcdError("bad_request", "limit must not be negative");
  const sortTarget = full.sort_target;
  const request = optional(full);
  if (sortTarget !== "key") request.sort_target = sortTarget;
  return request;
}

export function decodePut(m: Msg): PutRequest {
  const request: PutRequest = optional({
    key: text(m.key, "key"),
    value: text(m.value, "value"),
    lease: int64(m.lease, "lease"),
    prev_kv: flag(m.prev_kv),
    ignore_value: flag(m.ignore_value),
    ignore_lease: flag(m.ignore_lease),
  });
  request.key ??= "";
  request.value ??= "";
  if (request.key === "") throw new EtcdError("empty_key", "the put has no key");
  return request;
}

export function decodeDeleteRange(m: Msg): DeleteRangeRequest {
  const request: DeleteRangeRequest = optional({
    key: text(m.key, "key"),
    range_end: text(m.range_end, "range_end"),
    prev_kv: flag(m.prev_kv),
  });
  request.key ??= "";
  if (request.key === "") throw new EtcdError("empty_key", "the delete has no key");
  return request;
}

const compare_results: Record<string, CompareResult> = { EQUAL: "=", NOT_EQUAL: "!=", LESS: "<", GREATER: ">" };
const compare_targets: Record<string, CompareTarget> = { VERSION: "version", CREATE: "create", MOD: "mod", VALUE: "value", LEASE: "lease" };
const compare_fields: Record<CompareTarget, string> = {
  version: "version",
  create: "create_revision",
  mod: "mod_revision",
  value: "value",
  lease: "lease",
};

export function decodeCompare(m: Msg): Compare {
  const target = compare_targets[String(m.target ?? "VERSION")];
  const result = compare_results[String(m.result ?? "EQUAL")];
  if (target === undefined || result === undefined) throw new EtcdError("bad_request", "unknown compare target or result");
  const field = compare_fields[target];
  const raw = m[field];
  const compare: Compare = {
    key: text(m.key, "compare key"),
    target,
    result,
    value: target === "value" ? text(raw, "compare value") : int64(raw, `compare ${field}`),
  };
  const rangeEnd = text(m.range_end, "compare range_end");
  if (rangeEnd !== "") compare.range_end = rangeEnd;
  if (compare.key === "") throw new EtcdError("empty_key", "a compare has no key");
  return compare;
}

function decodeRequestOp(m: Msg, depth: number): RequestOp {
  switch (m.request) {
    case "request_range":
      return { range: storeRange(decodeRange(m.request_range as Msg)) };
    case "request_put":
      return { put: decodePut(m.request_put as Msg) };
    case "request_delete_range":
      return { delete_range: decodeDeleteRange(m.request_delete_range as Msg) };
    case "request_txn":
      return { txn: decodeTxn(m.request_txn as Msg, depth + 1) };
    default:
      throw new EtcdError("bad_request", "a txn operation names no request");
  }
}

/** txn_depth_max bounds nested txns, so a hostile request cannot recurse the decoder off the stack. */
const txn_depth_max = 16;

function list(value: unknown): Msg[] {
  return Array.isArray(value) ? (value as Msg[]) : [];
}

export function decodeTxn(m: Msg, depth = 0): TxnRequest {
  if (depth > txn_depth_max) throw new EtcdError("bad_request", `txns nest at most ${txn_depth_max} deep`);
  return {
    compare: list(m.compare).map(decodeCompare),
    success: list(m.success).map((op) => decodeRequestOp(op, depth)),
    failure: list(m.failure).map((op) => decodeRequestOp(op, depth)),
  };
}

export function encodeKv(kv: KeyValue): Msg {
  return {
    key: bytes(kv.key),
    value: bytes(kv.value),
    create_revision: kv.create_revision,
    mod_revision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  };
}

export function encodeRange(r: RangeResponse, header: ResponseHeader): Msg {
  return { header, kvs: r.kvs.map(encodeKv), more: r.more, count: r.count };
}

export function encodePut(r: PutResponse, header: ResponseHeader): Msg {
  return r.prev_kv === undefined ? { header } : { header, prev_kv: encodeKv(r.prev_kv) };
}

export function encodeDeleteRange(r: DeleteRangeResponse, header: ResponseHeader): Msg {
  return { header, deleted: r.deleted, prev_kvs: (r.prev_kvs ?? []).map(encodeKv) };
}

function encodeResponseOp(op: ResponseOp, header: ResponseHeader): Msg {
  if ("range" in op) return { response_range: encodeRange(op.range, header) };
  if ("put" in op) return { response_put: encodePut(op.put, header) };
  if ("delete_range" in op) return { response_delete_range: encodeDeleteRange(op.delete_range, header) };
  return { response_txn: encodeTxn(op.txn, header) };
}

export function encodeTxn(r: TxnResponse, header: ResponseHeader): Msg {
  return { header, succeeded: r.succeeded, responses: r.responses.map((op) => encodeResponseOp(op, header)) };
}

export function encodeEvent(e: Event): Msg {
  const out: Msg = { type: e.type === "put" ? "PUT" : "DELETE", kv: encodeKv(e.kv) };
  if (e.prev_kv !== undefined) out.prev_kv = encodeKv(e.prev_kv);
  return out;
}

export function decodeWatchCreate(m: Msg): WatchCreateRequest {
  const filters = (Array.isArray(m.filters) ? m.filters : []).map((f) => {
    if (f === "NOPUT" || f === 0) return "noput" as const;
    if (f === "NODELETE" || f === 1) return "nodelete" as const;
    throw new EtcdError("bad_request", `unknown watch filter ${String(f)}`);
  });
  const request: WatchCreateRequest = optional({
    key: text(m.key, "key"),
    range_end: text(m.range_end, "range_end"),
    start_revision: int64(m.start_revision, "start_revision"),
    progress_notify: flag(m.progress_notify),
    prev_kv: flag(m.prev_kv),
    fragment: flag(m.fragment),
  });
  request.key ??= "";
  if (filters.length > 0) request.filters = filters;
  if (request.key === "") throw new EtcdError("empty_key", "the watch has no key");
  return request;
}
