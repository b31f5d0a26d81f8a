import { Packr } from "msgpackr";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type { KvCommand } from "./types.ts";

// Self-describing frames (no msgpackr records): an entry written today must decode after any restart.
const packr = new Packr({ useRecords: false });

/** Wire tags of a command in a log entry: [tag, key] or [tag, key, value]. Never renumber (disk format). */
const PUT = 1;
const DELETE = 2;

export interface CommandLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
}

const defaultLimits: CommandLimits = { maxKeyBytes: limits.key_bytes_max, maxValueBytes: limits.value_bytes_max };

/** encodeCommand turns a validated command into the bytes of a normal log entry. */
export function encodeCommand(command: KvCommand): Uint8Array {
  const body = command.op === "put" ? [PUT, command.key, command.value] : [DELETE, command.key];
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
  if (body[0] === PUT && body.length === 3 && typeof body[2] === "string") {
    return { op: "put", key: body[1], value: body[2] };
  }
  if (body[0] === DELETE && body.length === 2) return { op: "delete", key: body[1] };
  throw new QklzlError("storage_corrupt", `log entry has unknown kv tag ${String(body[0])}`);
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
