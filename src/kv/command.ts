import { Packr } from "msgpackr";
import { QklzlError } from "../shared/errors.ts";
import { describeJsonType, type JsonObject, requireString } from "../shared/json.ts";
import { limits } from "../shared/limits.ts";
import type { KvCommand } from "./types.ts";

// Self-describing frames (no msgpackr records): an entry written today must decode after any restart.
const packr = new Packr({ useRecords: false });

/** Wire tags of a command in a log entry: [tag, key] or [tag, key, value]. Never renumber (disk format). */
const put_tag = 1;
const delete_tag = 2;

export interface CommandLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

const defaultLimits: CommandLimits = { maxKeyBytes: limits.key_bytes_max, maxValueBytes: limits.value_bytes_max };

/** encodeCommand turns a validated command into the bytes of a normal log entry. */
export function encodeCommand(command: KvCommand): Uint8Array {
  const body = command.op === "put" ? [put_tag, command.key, command.value] : [delete_tag, command.key];
  return packr.pack(body);
}

/**
 * decodeCommand reads the bytes of a normal log entry. Entries were validated before they were proposed,
 * so a malformed one is corruption or a bug: it throws rather than guess.
 */
export function decodeCommand(data: Uint8Array): KvCommand {
  const body: unknown = packr.unpack(data);
  if (!Array.isArray(body) || typeof body[1] !== "string") {
    throw new QklzlError("storage_corrupt", "log entry is not a kv command");
  }
  if (body[0] === put_tag && body.length === 3 && typeof body[2] === "string") {
    return { op: "put", key: body[1], value: body[2] };
  }
  if (body[0] === delete_tag && body.length === 2) return { op: "delete", key: body[1] };
  throw new QklzlError("storage_corrupt", `log entry has unknown kv tag ${String(body[0])}`);
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
