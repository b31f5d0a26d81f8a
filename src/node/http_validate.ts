import type { KvCommand } from "../kv/types.ts";
import { QklzlError } from "../shared/errors.ts";
import type { Consistency, JoinRequest } from "./api.ts";
import { describeJsonType, type JsonObject } from "./http_body.ts";

/** KvLimits are the per-field bounds from the node's flags (issue 4: key 4 KiB, value 1 MiB by default). */
export interface KvLimits {
  maxKeyBytes: number;
  maxValueBytes: number;
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

/** checkKey refuses an empty key, a lone surrogate (not representable in UTF-8) and a key over the limit. */
export function checkKey(key: string, maxKeyBytes: number): string {
  if (key.length === 0) throw new QklzlError("bad_request", "key must not be empty");
  if (!fitsBytes(key, maxKeyBytes)) {
    throw new QklzlError("too_large", `key of ${utf8ByteLength(key)} bytes is over the limit of ${maxKeyBytes} bytes`, {
      limit_bytes: maxKeyBytes,
    });
  }
  if (!key.isWellFormed()) throw new QklzlError("bad_request", "key is not valid Unicode (lone surrogate)");
  return key;
}

function checkValue(value: string, maxValueBytes: number): string {
  if (!fitsBytes(value, maxValueBytes)) {
    throw new QklzlError(
      "too_large",
      `value of ${utf8ByteLength(value)} bytes is over the limit of ${maxValueBytes} bytes`,
      { limit_bytes: maxValueBytes },
    );
  }
  if (!value.isWellFormed()) throw new QklzlError("bad_request", "value is not valid Unicode (lone surrogate)");
  return value;
}

function requireString(body: JsonObject, field: string): string {
  const value = body[field];
  if (value === undefined) throw new QklzlError("bad_request", `missing field "${field}"`);
  if (typeof value !== "string") {
    throw new QklzlError("bad_request", `field "${field}" must be a string, got ${describeJsonType(value)}`);
  }
  return value;
}

/** parseKvCommand validates a POST /kv body into a KvCommand; nothing reaches the log unless this returns. */
export function parseKvCommand(body: JsonObject, kvLimits: KvLimits): KvCommand {
  const op = body.op;
  if (op === undefined) throw new QklzlError("bad_request", 'missing field "op" (one of "put", "delete")');
  if (op === "put") {
    const key = checkKey(requireString(body, "key"), kvLimits.maxKeyBytes);
    const value = checkValue(requireString(body, "value"), kvLimits.maxValueBytes);
    return { op: "put", key, value };
  }
  if (op === "delete") {
    const key = checkKey(requireString(body, "key"), kvLimits.maxKeyBytes);
    return { op: "delete", key };
  }
  if (typeof op !== "string") {
    throw new QklzlError("bad_request", `field "op" must be a string, got ${describeJsonType(op)}`);
  }
  throw new QklzlError("bad_request", `unknown op ${JSON.stringify(op)}; expected "put" or "delete"`);
}

/** parseMemberId reads a node id: a positive safe integer (0 means "no node" in /status). */
export function parseMemberId(body: JsonObject, field = "id"): number {
  const id = body[field];
  if (id === undefined) throw new QklzlError("bad_request", `missing field "${field}"`);
  if (typeof id !== "number") {
    throw new QklzlError("bad_request", `field "${field}" must be a number, got ${describeJsonType(id)}`);
  }
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new QklzlError("bad_request", `field "${field}" must be a positive integer, got ${id}`);
  }
  return id;
}

/** checkHostPort accepts "host:port" and "[v6]:port" with a port in 1..65535; the port is required. */
export function checkHostPort(addr: string, field: string): string {
  const colon = addr.lastIndexOf(":");
  const host = colon > 0 ? addr.slice(0, colon) : "";
  const portText = colon > 0 ? addr.slice(colon + 1) : "";
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : -1;
  const hostOk = host.length > 0 && !/[\s/?#@]/.test(host) && (!host.includes(":") || /^\[[0-9a-fA-F:.]+\]$/.test(host));
  if (!hostOk || port < 1 || port > 65535) {
    throw new QklzlError("bad_request", `field "${field}" must be "host:port", got ${JSON.stringify(addr)}`);
  }
  return addr;
}

/** parseJoinRequest validates a POST /join body {"id","raft_addr","http_addr"[,"incarnation","fresh"]}. */
export function parseJoinRequest(body: JsonObject): JoinRequest {
  const id = parseMemberId(body);
  const raftAddr = checkHostPort(requireString(body, "raft_addr"), "raft_addr");
  const httpAddr = checkHostPort(requireString(body, "http_addr"), "http_addr");
  const request: JoinRequest = { id, raftAddr, httpAddr };
  // Optional (older clients send neither): the joining node's data-dir incarnation, and whether its log is empty.
  const incarnation = body.incarnation;
  if (incarnation !== undefined) {
    if (typeof incarnation !== "string" || incarnation.length > 200) {
      throw new QklzlError("bad_request", `field "incarnation" must be a string of at most 200 characters`);
    }
    request.incarnation = incarnation;
  }
  const fresh = body.fresh;
  if (fresh !== undefined) {
    if (typeof fresh !== "boolean") throw new QklzlError("bad_request", `field "fresh" must be true or false`);
    request.fresh = fresh;
  }
  return request;
}

/** parseConsistency reads ?consistency=: linearizable (the default) or stale. */
export function parseConsistency(value: string | null): Consistency {
  if (value === null || value === "linearizable") return "linearizable";
  if (value === "stale") return "stale";
  throw new QklzlError("bad_request", `consistency must be "linearizable" or "stale", got ${JSON.stringify(value)}`);
}

/** parseFlag reads a boolean query flag such as ?forward=true. */
export function parseFlag(name: string, value: string | null): boolean {
  if (value === null || value === "false" || value === "0") return false;
  if (value === "true" || value === "1" || value === "") return true;
  throw new QklzlError("bad_request", `${name} must be "true" or "false", got ${JSON.stringify(value)}`);
}
