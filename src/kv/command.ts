import { Packr } from "msgpackr";
import { assert } from "../shared/assert.ts";
import { QklzlError, isQklzlError } from "../shared/errors.ts";
import { describeJsonType, type JsonObject, requireString } from "../shared/json.ts";
import { limits } from "../shared/limits.ts";
import type { AuthRequest, Caller } from "./auth_types.ts";
import { validateAuthRequest } from "./auth_validate.ts";
import { bytesPut } from "./bytes_put.ts";
import { shortPutView } from "./short_put_view.ts";
import type { EntryRequest, KvRequest } from "./mvcc_types.ts";
import { unbounded, validateAlarm, validateKvRequest } from "./request_validate.ts";
import { decodeShortEntry } from "./short_decode.ts";
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
 * - v3: a msgpack map {v: 3, id?: request id, req: KvRequest | {kind: "auth", auth: AuthRequest}, user?, arev?}:
 *   an entry proposed by an authenticated caller (user, and the auth revision the proposer checked it at) or
 *   an auth change. Written only when auth is used, so a cluster that never uses it writes v2 as before.
 * - v4: a msgpack map {v: 4, alarm: AlarmRequest}: an alarm raised or disarmed (kv/alarms.ts). A format of its
 *   own, so a binary from before alarms (which reads v1-v3) stops on "unknown format 4" instead of misreading
 *   the entry; never written unless an alarm is raised or disarmed.
 * - v5, raw put (PUT /kv/KEY): [18, request id or nil, key, value as msgpack bin (UTF-8 bytes)]. Decoding gives
 *   a view of the bytes, which the store copies into its arena without making a string (kv/bytes_put.ts). A
 *   binary from before v5 stops on it ("unknown kv tag 18", or "not a kv command" without a request id:
 *   storage_corrupt) instead of misreading it; written by the raw route and by etcd's KV.Put of a plain put
 *   (no lease, prev_kv or ignore flags: src/node/grpc/kv_service.ts).
 */
const v1_put_tag = 1;
const v1_delete_tag = 2;
const v2_format_version = 2;
const v2_put_tag = 16;
const v2_delete_tag = 17;
const v3_format_version = 3;
const v4_alarm_version = 4;
const v5_raw_put_tag = 18;
/** short_put_view_bytes_min: from this value size a v2 short put is read as bytes (kv/short_put_view.ts). */
const short_put_view_bytes_min = 1024;

export interface CommandLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
  /** maxTxnOps: --max-txn-ops for txn requests (absent: limits.txn_ops_max); see RequestBounds. */
  maxTxnOps?: number;
}

const defaultLimits: CommandLimits = { maxKeyBytes: limits.key_bytes_max, maxValueBytes: limits.value_bytes_max };

/** DecodedEntry: what a normal entry asks; `legacy` marks a v1 entry (its revision follows the index). */
export interface DecodedEntry {
  request: EntryRequest;
  requestId: string | null;
  legacy: boolean;
  /** caller: who proposed it, when auth was on at the proposer (v3 only); absent otherwise. */
  caller?: Caller;
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

/** encodeRequest: the bytes of a v2 log entry for a validated request (v3 when a caller is named, v4 for an alarm). */
export function encodeRequest(request: KvRequest, requestId?: string, caller?: Caller | null): Uint8Array {
  // An alarm is raised or disarmed by the cluster itself (the leader's quota or corruption check, or a disarm
  // the route admitted): no request id, no caller.
  if (request.kind === "alarm") return packr.pack({ v: v4_alarm_version, alarm: request.alarm });
  if (caller !== undefined && caller !== null) return encodeV3(request, requestId, caller);
  const id = requestId ?? null;
  if (request.kind === "put" && Object.keys(request.put).length === 2) return packr.pack([v2_put_tag, id, request.put.key, request.put.value]);
  if (request.kind === "delete_range" && Object.keys(request.delete_range).length === 1) {
    return packr.pack([v2_delete_tag, id, request.delete_range.key]);
  }
  return packr.pack(requestId === undefined ? { v: v2_format_version, req: request } : { v: v2_format_version, id: requestId, req: request });
}

/** strHeaderBytes: the smallest msgpack str header for `n` bytes (what msgpackr writes for an ASCII string). */
function strHeaderBytes(n: number): number {
  return n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

function writeStrHeader(out: Uint8Array, at: number, n: number): number {
  if (n < 0x20) {
    out[at] = 0xa0 | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0xd9;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = 0xda;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  out[at] = 0xdb;
  out[at + 1] = n >>> 24;
  out[at + 2] = (n >>> 16) & 0xff;
  out[at + 3] = (n >>> 8) & 0xff;
  out[at + 4] = n & 0xff;
  return at + 5;
}

const utf8Encoder = new TextEncoder();

/**
 * encodeUtf8Put: the v2 short-form entry of a plain put, [16, nil, key, value], with the value given as its
 * UTF-8 bytes (a large POST /kv body, read without making a string of it: node/http/plain_put.ts). For an
 * ASCII key and value these are exactly the bytes encodeCommand writes for the same put (msgpackr's str
 * headers for ASCII are the smallest that fit; a test pins it), so no replica and no log can tell the two
 * apart; for other UTF-8 they are the same v2 form with the smallest headers, which decodes to the same put.
 * `value` must be valid UTF-8 within the value limit (the caller checks). `spare`: how many bytes just before
 * `value` the caller lends (they are overwritten: a body's JSON opening); when they hold the entry's head the
 * entry is written around the value in place, else the value is copied once, into a new entry.
 */
export function encodeUtf8Put(key: string, value: Uint8Array, spare = 0): Uint8Array {
  const keyBytes = utf8Encoder.encode(key);
  const head = 3 + strHeaderBytes(keyBytes.length) + keyBytes.length + strHeaderBytes(value.length);
  const size = head + value.length;
  // In place when the caller lends the bytes before the value: the entry is then a view around it, no copy.
  const inPlace = spare >= head && value.byteOffset >= head;
  const out = inPlace ? new Uint8Array(value.buffer, value.byteOffset - head, size) : new Uint8Array(size);
  out[0] = 0x94; // fixarray of 4
  out[1] = v2_put_tag;
  out[2] = 0xc0; // no request id
  let at = writeStrHeader(out, 3, keyBytes.length);
  out.set(keyBytes, at);
  at = writeStrHeader(out, at + keyBytes.length, value.length);
  if (!(at === head)) assert(false, "utf8 put entry head size");
  if (!inPlace) out.set(value, at);
  return out;
}

/**
 * encodeRawPut: the bytes of a v5 raw put entry. `value` must be valid UTF-8 (the route checks it with isUtf8)
 * and within the value limit; msgpack bin, so the only copy here is into the entry.
 */
export function encodeRawPut(key: string, value: Uint8Array, requestId?: string): Uint8Array {
  // Written by hand (msgpackr's generic pack was ~5 % of a gRPC put's leader CPU): the bytes msgpackr writes for
  // the array (test/kv/raw_put_codec.test.ts compares them), so every binary reads them alike.
  const keyBytes = Buffer.byteLength(key, "utf8");
  const idBytes = requestId === undefined ? 0 : Buffer.byteLength(requestId, "utf8");
  const size = 2 + (requestId === undefined ? 1 : strHeaderBytes(idBytes) + idBytes) + strHeaderBytes(keyBytes) + keyBytes + binHeaderBytes(value.length) + value.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x94;
  out[1] = v5_raw_put_tag;
  let at = 2;
  if (requestId === undefined) out[at++] = 0xc0;
  else at = writeStr(out, at, requestId, idBytes);
  at = writeStr(out, at, key, keyBytes);
  const n = value.length;
  if (n < 0x100) {
    out[at] = 0xc4;
    out[at + 1] = n;
    at += 2;
  } else if (n < 0x10000) {
    out[at] = 0xc5;
    out.writeUInt16BE(n, at + 1);
    at += 3;
  } else {
    out[at] = 0xc6;
    out.writeUInt32BE(n, at + 1);
    at += 5;
  }
  out.set(value, at);
  return out;
}

function binHeaderBytes(n: number): number {
  return n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** writeStr: a msgpack str (fixstr, str8, str16, str32) of `text` (`bytes` UTF-8 bytes long) at `at`; the offset after it. */
function writeStr(out: Buffer, at: number, text: string, bytes: number): number {
  at = writeStrHeader(out, at, bytes);
  // ASCII (most keys): latin1 writes the same bytes as UTF-8, one per character, without the encoder's set-up.
  return at + out.write(text, at, bytes, bytes === text.length ? "latin1" : "utf8");
}

/** encodeAuth: the bytes of a v3 entry holding an auth change, proposed by `caller` (null while auth is off). */
export function encodeAuth(request: AuthRequest, caller: Caller | null): Uint8Array {
  return encodeV3({ kind: "auth", auth: request }, undefined, caller);
}

function encodeV3(request: EntryRequest, requestId: string | undefined, caller: Caller | null): Uint8Array {
  const body: Record<string, unknown> = { v: v3_format_version, req: request };
  if (requestId !== undefined) body.id = requestId;
  if (caller !== null) {
    body.user = caller.user;
    body.arev = caller.revision;
  }
  return packr.pack(body);
}

/**
 * decodeEntry reads the bytes of a normal log entry, v1 or v2. Entries were validated before they were
 * proposed, so a malformed one is corruption or a bug: it throws storage_corrupt rather than guess. Size
 * bounds are not re-checked (flags may differ between nodes; apply must not).
 */
export function decodeEntry(data: Uint8Array): DecodedEntry {
  const large = shortPutView(data, short_put_view_bytes_min); // a plain put of a large value, as a view of its bytes
  if (large !== null) return large;
  const short = decodeShortEntry(data); // the common plain put/delete, read in place (short_decode.ts)
  if (short !== null) return short;
  const body: unknown = packr.unpack(data);
  if (Array.isArray(body)) return decodeV1(body); // v1, or a v2 short form
  if (typeof body !== "object" || body === null) corrupt("log entry is not a kv command");
  const fields = body as Record<string, unknown>;
  if (fields.v === v3_format_version) return decodeV3(fields);
  if (fields.v === v4_alarm_version) return decodeAlarm(fields);
  if (fields.v !== v2_format_version) corrupt(`log entry has unknown format ${JSON.stringify(fields.v ?? null)}`);
  const id = fields.id;
  if (id !== undefined && typeof id !== "string") corrupt("log entry has a non-string request id");
  try {
    return { request: validateKvRequest(fields.req, unbounded), requestId: id ?? null, legacy: false };
  } catch (error) {
    if (isQklzlError(error)) corrupt(`log entry is not a valid request: ${error.message}`);
    throw error;
  }
}

function decodeV3(fields: Record<string, unknown>): DecodedEntry {
  const id = fields.id;
  if (id !== undefined && typeof id !== "string") corrupt("log entry has a non-string request id");
  let caller: Caller | null = null;
  if (fields.user !== undefined) {
    if (typeof fields.user !== "string" || !Number.isSafeInteger(fields.arev)) corrupt("log entry has a malformed caller");
    caller = { user: fields.user, revision: fields.arev as number };
  }
  const req = fields.req as Record<string, unknown> | null;
  try {
    const request: EntryRequest =
      typeof req === "object" && req !== null && req.kind === "auth"
        ? { kind: "auth", auth: validateAuthRequest(req.auth) }
        : validateKvRequest(req, unbounded);
    return caller === null ? { request, requestId: id ?? null, legacy: false } : { request, requestId: id ?? null, legacy: false, caller };
  } catch (error) {
    if (isQklzlError(error)) corrupt(`log entry is not a valid request: ${error.message}`);
    throw error;
  }
}

function decodeAlarm(fields: Record<string, unknown>): DecodedEntry {
  try {
    return { request: { kind: "alarm", alarm: validateAlarm(fields.alarm) }, requestId: null, legacy: false };
  } catch (error) {
    if (isQklzlError(error)) corrupt(`log entry is not a valid alarm: ${error.message}`);
    throw error;
  }
}

function decodeV1(body: unknown[]): DecodedEntry {
  if (body[0] === v2_put_tag || body[0] === v2_delete_tag || body[0] === v5_raw_put_tag) return decodeShort(body);
  if (typeof body[1] !== "string") corrupt("log entry is not a kv command");
  if (body[0] === v1_put_tag && body.length === 3 && typeof body[2] === "string") {
    return { request: { kind: "put", put: { key: body[1], value: body[2] } }, requestId: null, legacy: true };
  }
  if (body[0] === v1_delete_tag && body.length === 2) {
    return { request: { kind: "delete_range", delete_range: { key: body[1] } }, requestId: null, legacy: true };
  }
  corrupt(`log entry has unknown kv tag ${String(body[0])}`);
}

function decodeShort(body: unknown[]): DecodedEntry {
  const id = body[1];
  const key = body[2];
  if ((id !== null && typeof id !== "string") || typeof key !== "string" || key.length === 0) corrupt("log entry is not a kv command");
  if (body[0] === v2_put_tag && body.length === 4 && typeof body[3] === "string") {
    return { request: { kind: "put", put: { key, value: body[3] } }, requestId: id, legacy: false };
  }
  if (body[0] === v5_raw_put_tag && body.length === 4 && body[3] instanceof Uint8Array) {
    return { request: { kind: "put", put: bytesPut(key, body[3]) }, requestId: id, legacy: false };
  }
  if (body[0] === v2_delete_tag && body.length === 3) return { request: { kind: "delete_range", delete_range: { key } }, requestId: id, legacy: false };
  corrupt("log entry has a malformed short form");
}

function corrupt(message: string): never {
  throw new QklzlError("storage_corrupt", message);
}

/**
 * validateCommand checks untrusted input (e.g. a parsed JSON body) and returns a well-typed command: the one
 * rule set for kv commands, whatever API they arrive through. bad_request names the problem; too_large names
 * the bound (details.limit_bytes). The messages are the HTTP API's.
 */
export function validateCommand(input: unknown, bounds: CommandLimits = defaultLimits): KvCommand {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new QklzlError("bad_request", "the command must be a JSON object");
  }
  const body = input as JsonObject;
  const op = body.op;
  if (op === undefined) throw new QklzlError("bad_request", 'missing field "op" (one of "put", "delete")');
  if (op === "put") {
    const key = validateKey(requireString(body, "key"), bounds.maxKeyBytes);
    const value = validateValue(requireString(body, "value"), bounds.maxValueBytes);
    return { op: "put", key, value };
  }
  if (op === "delete") {
    const key = validateKey(requireString(body, "key"), bounds.maxKeyBytes);
    return { op: "delete", key };
  }
  if (typeof op !== "string") {
    throw new QklzlError("bad_request", `field "op" must be a string, got ${describeJsonType(op)}`);
  }
  throw new QklzlError("bad_request", `unknown op ${JSON.stringify(op)}; expected "put" or "delete"`);
}

/** utf8ByteLength counts UTF-8 bytes without encoding the string. */
export function utf8ByteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * fitsBytes: a UTF-16 unit is 1-3 UTF-8 bytes (a surrogate pair is 4 for 2 units), so most strings are decided by
 * their length alone and only the ambiguous band pays for counting.
 */
function fitsBytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return false;
  if (text.length * 3 <= maxBytes) return true;
  return utf8ByteLength(text) <= maxBytes;
}

/** validateKey refuses an empty key, a key over the limit (in UTF-8 bytes) and a lone surrogate (not representable in UTF-8). */
export function validateKey(key: string, maxKeyBytes: number = limits.key_bytes_max): string {
  if (key.length === 0) throw new QklzlError("bad_request", "key must not be empty");
  if (!fitsBytes(key, maxKeyBytes)) {
    throw new QklzlError("too_large", `key of ${utf8ByteLength(key)} bytes is over the limit of ${maxKeyBytes} bytes`, {
      limit_bytes: maxKeyBytes,
    });
  }
  if (!key.isWellFormed()) throw new QklzlError("bad_request", "key is not valid Unicode (lone surrogate)");
  return key;
}

/** validateValueBytes: validateValue's size check for a value given as UTF-8 bytes (same answer, same message). */
export function validateValueBytes(value: Uint8Array, maxValueBytes: number = limits.value_bytes_max): Uint8Array {
  if (value.length > maxValueBytes) {
    throw new QklzlError("too_large", `value of ${value.length} bytes is over the limit of ${maxValueBytes} bytes`, { limit_bytes: maxValueBytes });
  }
  return value;
}

/** validateValue refuses a value over the limit (in UTF-8 bytes) and a lone surrogate; an empty value is fine. */
export function validateValue(value: string, maxValueBytes: number = limits.value_bytes_max): string {
  if (!fitsBytes(value, maxValueBytes)) {
    throw new QklzlError("too_large", `value of ${utf8ByteLength(value)} bytes is over the limit of ${maxValueBytes} bytes`, {
      limit_bytes: maxValueBytes,
    });
  }
  if (!value.isWellFormed()) throw new QklzlError("bad_request", "value is not valid Unicode (lone surrogate)");
  return value;
}
