import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type {
  AlarmRequest,
  CompactRequest,
  Compare,
  DeleteRangeRequest,
  KvRequest,
  LeaseGrantRequest,
  LeaseRevokeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
} from "./mvcc_types.ts";
import { checkTxnLimits } from "./txn.ts";

/**
 * RequestBounds: the size bounds of keys and values and the operations of a txn (flags); decoding a log entry
 * uses none (Infinity): an entry accepted by the leader's flags applies on every replica whatever its own.
 */
export interface RequestBounds {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** maxTxnOps: --max-txn-ops (operations, and compares, of one txn); absent: limits.txn_ops_max. */
  maxTxnOps?: number;
}

export const defaultBounds: RequestBounds = { maxKeyBytes: limits.key_bytes_max, maxValueBytes: limits.value_bytes_max, maxTxnOps: limits.txn_ops_max };
export const unbounded: RequestBounds = { maxKeyBytes: Number.POSITIVE_INFINITY, maxValueBytes: Number.POSITIVE_INFINITY, maxTxnOps: Number.POSITIVE_INFINITY };

type Fields = Record<string, unknown>;

function bad(message: string): never {
  throw new QklzlError("bad_request", message);
}

function object(input: unknown, what: string): Fields {
  if (typeof input !== "object" || input === null || Array.isArray(input)) bad(`${what} must be a JSON object`);
  return input as Fields;
}

/** onlyFields refuses unknown fields: a typo ("rangeEnd") must not silently read one key instead of many. */
function onlyFields(fields: Fields, allowed: readonly string[], what: string): void {
  for (const name of Object.keys(fields)) {
    if (!allowed.includes(name)) bad(`${what} has an unknown field ${JSON.stringify(name)}`);
  }
}

function key(value: unknown, name: string, bounds: RequestBounds): string {
  if (typeof value !== "string") bad(`${name} must be a string`);
  if (value.length === 0) bad(`${name} must not be empty`);
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > bounds.maxKeyBytes) throw new QklzlError("too_large", `${name} is ${bytes} bytes; the maximum is ${bounds.maxKeyBytes}`);
  return value;
}

function optionalKey(value: unknown, name: string, bounds: RequestBounds): string | undefined {
  if (value === undefined || value === "") return undefined;
  return key(value, name, bounds);
}

function value(input: unknown, bounds: RequestBounds): string {
  if (typeof input !== "string") bad("value must be a string");
  const bytes = Buffer.byteLength(input, "utf8");
  if (bytes > bounds.maxValueBytes) throw new QklzlError("too_large", `value is ${bytes} bytes; the maximum is ${bounds.maxValueBytes}`);
  return input;
}

function count(input: unknown, name: string): number | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== "number" || !Number.isSafeInteger(input) || input < 0) bad(`${name} must be a non-negative integer`);
  return input;
}

function flag(input: unknown, name: string): boolean | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== "boolean") bad(`${name} must be true or false`);
  return input;
}

function oneOf<T extends string>(input: unknown, name: string, options: readonly T[]): T | undefined {
  if (input === undefined) return undefined;
  if (!options.includes(input as T)) bad(`${name} must be one of ${options.map((o) => JSON.stringify(o)).join(", ")}`);
  return input as T;
}

/**
 * compact copies the defined fields only, so that an encoded request and its decoding compare equal (a copy,
 * not `delete`, which would turn the object into a slow dictionary).
 */
function compact<T extends object>(fields: T): T {
  const out: Fields = {};
  for (const name in fields) if ((fields as Fields)[name] !== undefined) out[name] = (fields as Fields)[name];
  return out as T;
}

const range_fields = [
  "key", "range_end", "limit", "revision", "sort_order", "sort_target", "keys_only", "count_only",
  "min_mod_revision", "max_mod_revision", "min_create_revision", "max_create_revision",
] as const;

export function validateRange(input: unknown, bounds: RequestBounds = defaultBounds): RangeRequest {
  const f = object(input, "a range");
  onlyFields(f, range_fields, "a range");
  return compact({
    key: key(f.key, "key", bounds),
    range_end: optionalKey(f.range_end, "range_end", bounds),
    limit: count(f.limit, "limit"),
    revision: count(f.revision, "revision"),
    sort_order: oneOf<SortOrder>(f.sort_order, "sort_order", ["none", "asc", "desc"]),
    sort_target: oneOf<SortTarget>(f.sort_target, "sort_target", ["key", "create", "mod", "version", "value"]),
    keys_only: flag(f.keys_only, "keys_only"),
    count_only: flag(f.count_only, "count_only"),
    min_mod_revision: count(f.min_mod_revision, "min_mod_revision"),
    max_mod_revision: count(f.max_mod_revision, "max_mod_revision"),
    min_create_revision: count(f.min_create_revision, "min_create_revision"),
    max_create_revision: count(f.max_create_revision, "max_create_revision"),
  });
}

export function validatePut(input: unknown, bounds: RequestBounds = defaultBounds): PutRequest {
  const f = object(input, "a put");
  onlyFields(f, ["key", "value", "lease", "prev_kv", "ignore_value", "ignore_lease"], "a put");
  const ignoreValue = flag(f.ignore_value, "ignore_value");
  if (ignoreValue && f.value !== undefined && f.value !== "") bad("a put with ignore_value takes no value");
  return compact({
    key: key(f.key, "key", bounds),
    value: ignoreValue ? "" : value(f.value, bounds),
    lease: count(f.lease, "lease"),
    prev_kv: flag(f.prev_kv, "prev_kv"),
    ignore_value: ignoreValue,
    ignore_lease: flag(f.ignore_lease, "ignore_lease"),
  });
}

export function validateDeleteRange(input: unknown, bounds: RequestBounds = defaultBounds): DeleteRangeRequest {
  const f = object(input, "a delete_range");
  onlyFields(f, ["key", "range_end", "prev_kv"], "a delete_range");
  return compact({
    key: key(f.key, "key", bounds),
    range_end: optionalKey(f.range_end, "range_end", bounds),
    prev_kv: flag(f.prev_kv, "prev_kv"),
  });
}

function validateCompare(input: unknown, bounds: RequestBounds): Compare {
  const f = object(input, "a compare");
  onlyFields(f, ["key", "range_end", "target", "result", "value"], "a compare");
  const target = oneOf(f.target, "target", ["value", "version", "create", "mod", "lease"] as const) ?? bad("a compare needs a target");
  const result = oneOf(f.result, "result", ["=", "!=", "<", ">"] as const) ?? bad("a compare needs a result");
  const against = target === "value" ? value(f.value, bounds) : (count(f.value, "a compare's value") ?? bad("a compare needs a value"));
  return compact({ key: key(f.key, "key", bounds), range_end: optionalKey(f.range_end, "range_end", bounds), target, result, value: against });
}

function validateOp(input: unknown, bounds: RequestBounds, depth: number): RequestOp {
  const f = object(input, "an operation");
  const names = Object.keys(f);
  if (names.length !== 1) bad('an operation has exactly one of "range", "put", "delete_range", "txn"');
  if ("range" in f) return { range: validateRange(f.range, bounds) };
  if ("put" in f) return { put: validatePut(f.put, bounds) };
  if ("delete_range" in f) return { delete_range: validateDeleteRange(f.delete_range, bounds) };
  if ("txn" in f) return { txn: validateTxnShape(f.txn, bounds, depth + 1) };
  return bad(`unknown operation ${JSON.stringify(names[0])}`);
}

function list(input: unknown, name: string, bounds: RequestBounds): unknown[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) bad(`${name} must be an array`);
  // Bound the work before looking inside: checkTxnLimits counts precisely afterwards.
  const max = bounds.maxTxnOps ?? limits.txn_ops_max;
  if (input.length > max) {
    throw new QklzlError("too_many_ops", `${name} has ${input.length} entries; the maximum is ${max}`);
  }
  return input;
}

function validateTxnShape(input: unknown, bounds: RequestBounds, depth: number): TxnRequest {
  if (depth > limits.txn_depth_max) throw new QklzlError("too_many_ops", `txns are nested deeper than ${limits.txn_depth_max} levels`);
  const f = object(input, "a txn");
  onlyFields(f, ["compare", "success", "failure"], "a txn");
  return {
    compare: list(f.compare, "compare", bounds).map((c) => validateCompare(c, bounds)),
    success: list(f.success, "success", bounds).map((op) => validateOp(op, bounds, depth)),
    failure: list(f.failure, "failure", bounds).map((op) => validateOp(op, bounds, depth)),
  };
}

/** validateTxn: shape, sizes, then the ops limit and duplicate keys (too_many_ops, duplicate_key). */
export function validateTxn(input: unknown, bounds: RequestBounds = defaultBounds): TxnRequest {
  const txn = validateTxnShape(input, bounds, 1);
  checkTxnLimits(txn, bounds.maxTxnOps ?? limits.txn_ops_max);
  return txn;
}

export function validateCompact(input: unknown): CompactRequest {
  const f = object(input, "a compact");
  onlyFields(f, ["revision"], "a compact");
  const revision = count(f.revision, "revision");
  if (revision === undefined || revision === 0) bad("compact needs a positive revision");
  return { revision };
}

/** leaseId: a lease id is a positive safe integer (0 means "no lease" on a key). */
function leaseId(input: unknown): number {
  const id = count(input, "id");
  if (id === undefined || id === 0) bad("a lease id must be a positive integer");
  return id;
}

/** validateLeaseGrant: the shape of a grant in a log entry (its TTL bounds are checked when it is proposed). */
export function validateLeaseGrant(input: unknown): LeaseGrantRequest {
  const f = object(input, "a lease grant");
  onlyFields(f, ["id", "ttl"], "a lease grant");
  const ttl = count(f.ttl, "ttl");
  if (ttl === undefined || ttl === 0) bad("a lease grant needs a positive ttl");
  return { id: leaseId(f.id), ttl };
}

export function validateLeaseRevoke(input: unknown): LeaseRevokeRequest {
  const f = object(input, "a lease revoke");
  onlyFields(f, ["id"], "a lease revoke");
  return { id: leaseId(f.id) };
}

/**
 * validateAlarm: the shape of an alarm entry (command.ts format 3). Alarms never come through
 * validateKvRequest: a client's kv request cannot carry one, only the alarm routes propose them.
 */
export function validateAlarm(input: unknown): AlarmRequest {
  const f = object(input, "an alarm");
  onlyFields(f, ["action", "member_id", "alarm"], "an alarm");
  if (f.action !== "activate" && f.action !== "deactivate") bad('an alarm action is "activate" or "deactivate"');
  const member = count(f.member_id, "member_id");
  if (member === undefined) bad("an alarm needs a member_id");
  if (f.action === "activate" && member === 0) bad("an alarm is raised for one member (member_id > 0)");
  if (f.alarm !== "NOSPACE" && f.alarm !== "CORRUPT") bad('an alarm type is "NOSPACE" or "CORRUPT"');
  return { action: f.action, member_id: member, alarm: f.alarm };
}

/** validateKvRequest checks a whole request of one log entry. */
export function validateKvRequest(input: unknown, bounds: RequestBounds = defaultBounds): KvRequest {
  const f = object(input, "a request");
  switch (f.kind) {
    case "put":
      return { kind: "put", put: validatePut(f.put, bounds) };
    case "delete_range":
      return { kind: "delete_range", delete_range: validateDeleteRange(f.delete_range, bounds) };
    case "txn":
      return { kind: "txn", txn: validateTxn(f.txn, bounds) };
    case "compact":
      return { kind: "compact", compact: validateCompact(f.compact) };
    case "lease_grant":
      return { kind: "lease_grant", lease_grant: validateLeaseGrant(f.lease_grant) };
    case "lease_revoke":
      return { kind: "lease_revoke", lease_revoke: validateLeaseRevoke(f.lease_revoke) };
    default:
      return bad(`unknown request kind ${JSON.stringify(f.kind ?? null)}`);
  }
}
