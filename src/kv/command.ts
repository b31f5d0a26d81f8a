import { Packr } from "msgpackr";
import { QklzlError, isQklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type { KvRequest } from "./mvcc_types.ts";
import { unbounded, validateKvRequest } from "./request_validate.ts";
import type { KvCommand } from "./types.ts";

// Self-describing frames (no msgpackr records): an entry written today must decode after any restart.
const packr = new Packr({ useRecords: false });

/**
 * Log entry formats (the disk format: never renumber).
 * - v1, written by qklzl before revisions: a msgpack array [1, key, value] (put) or [2, key] (delete).
 * - v2: a msgpack map {v: 2, id?: request id, req: KvRequest}. A later format is a map with a higher v.
 * - v2, short forms of the original API's writes (most entries; an array decodes several times faster than
 *   nested maps): [16, request id or nil, key, value] is a plain put, [17, request id or nil, key] a delete of
 *   one key.
 */
const V1_PUT = 1;
const V1_DELETE = 2;
const V2 = 2;
const V2_PUT = 16;
const V2_DELETE = 17;

export interface CommandLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

const defaultLimits: CommandLimits = { maxKeyBytes: limits.key_bytes_max, maxValueBytes: limits.value_bytes_max };

/** DecodedEntry: what a normal entry asks; `legacy` marks a v1 entry (its revision follows the index). */
export interface DecodedEntry {
  request: KvRequest;
  requestId: string | null;
  legacy: boolean;
}

/** requestOf: the v2 request of a put/delete of the original API. */
export function requestOf(command: KvCommand): KvRequest {
  return command.op === "put"
    ? { kind: "put", put: { key: command.key, value: command.value } }
    : { kind: "delete_range", delete_range: { key: command.key } };
}

/** encodeCommand turns a validated put/delete of the original API into the bytes of a (v2) log entry. */
export function encodeCommand(command: KvCommand, requestId?: string): Uint8Array {
  return encodeRequest(requestOf(command), requestId);
}

/** encodeRequest: the bytes of a v2 log entry for a validated request. */
export function encodeRequest(request: KvRequest, requestId?: string): Uint8Array {
  const id = requestId ?? null;
  if (request.kind === "put" && Object.keys(request.put).length === 2) return packr.pack([V2_PUT, id, request.put.key, request.put.value]);
  if (request.kind === "delete_range" && Object.keys(request.delete_range).length === 1) {
    return packr.pack([V2_DELETE, id, request.delete_range.key]);
  }
  return packr.pack(requestId === undefined ? { v: V2, req: request } : { v: V2, id: requestId, req: request });
}

/**
 * decodeEntry reads the bytes of a normal log entry, v1 or v2. Entries were validated before they were
 * proposed, so a malformed one is corruption or a bug: it throws storage_corrupt rather than guess. Size
 * bounds are not re-checked (flags may differ between nodes; apply must not).
 */
export function decodeEntry(data: Uint8Array): DecodedEntry {
  const body: unknown = packr.unpack(data);
  if (Array.isArray(body)) return decodeV1(body); // v1, or a v2 short form
  if (typeof body !== "object" || body === null) corrupt("log entry is not a kv command");
  const fields = body as Record<string, unknown>;
  if (fields.v !== V2) corrupt(`log entry has unknown format ${JSON.stringify(fields.v ?? null)}`);
  const id = fields.id;
  if (id !== undefined && typeof id !== "string") corrupt("log entry has a non-string request id");
  try {
    return { request: validateKvRequest(fields.req, unbounded), requestId: id ?? null, legacy: false };
  } catch (error) {
    if (isQklzlError(error)) corrupt(`log entry is not a valid request: ${error.message}`);
    throw error;
  }
}

function decodeV1(body: unknown[]): DecodedEntry {
  if (body[0] === V2_PUT || body[0] === V2_DELETE) return decodeShort(body);
  if (typeof body[1] !== "string") corrupt("log entry is not a kv command");
  if (body[0] === V1_PUT && body.length === 3 && typeof body[2] === "string") {
    return { request: { kind: "put", put: { key: body[1], value: body[2] } }, requestId: null, legacy: true };
  }
  if (body[0] === V1_DELETE && body.length === 2) {
    return { request: { kind: "delete_range", delete_range: { key: body[1] } }, requestId: null, legacy: true };
  }
  corrupt(`log entry has unknown kv tag ${String(body[0])}`);
}

function decodeShort(body: unknown[]): DecodedEntry {
  const id = body[1];
  const key = body[2];
  if ((id !== null && typeof id !== "string") || typeof key !== "string" || key.length === 0) corrupt("log entry is not a kv command");
  if (body[0] === V2_PUT && body.length === 4 && typeof body[3] === "string") {
    return { request: { kind: "put", put: { key, value: body[3] } }, requestId: id, legacy: false };
  }
  if (body[0] === V2_DELETE && body.length === 3) return { request: { kind: "delete_range", delete_range: { key } }, requestId: id, legacy: false };
  corrupt("log entry has a malformed short form");
}

function corrupt(message: string): never {
  throw new QklzlError("storage_corrupt", message);
}

/**
 * validateCommand checks untrusted input (e.g. a parsed JSON body) and returns a well-typed command.
 * bad_request names the problem; too_large names the bound.
 */
export function validateCommand(input: unknown, bounds: CommandLimits = defaultLimits): KvCommand {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new QklzlError("bad_request", "the command must be a JSON object");
  }
  const record = input as Record<string, unknown>;
  const op = record.op;
  if (op !== "put" && op !== "delete") {
    throw new QklzlError("bad_request", `unknown op ${JSON.stringify(op ?? null)}: expected "put" or "delete"`);
  }
  const key = validateKey(record.key, bounds);
  if (op === "delete") return { op, key };
  const value = record.value;
  if (typeof value !== "string") throw new QklzlError("bad_request", "value must be a string");
  const valueBytes = Buffer.byteLength(value, "utf8");
  if (valueBytes > bounds.maxValueBytes) {
    throw new QklzlError("too_large", `value is ${valueBytes} bytes; the maximum is ${bounds.maxValueBytes}`);
  }
  return { op, key, value };
}

/** validateKey: a non-empty string within the key bound. */
export function validateKey(key: unknown, bounds: CommandLimits = defaultLimits): string {
  if (typeof key !== "string") throw new QklzlError("bad_request", "key must be a string");
  if (key.length === 0) throw new QklzlError("bad_request", "key must not be empty");
  const keyBytes = Buffer.byteLength(key, "utf8");
  if (keyBytes > bounds.maxKeyBytes) {
    throw new QklzlError("too_large", `key is ${keyBytes} bytes; the maximum is ${bounds.maxKeyBytes}`);
  }
  return key;
}
