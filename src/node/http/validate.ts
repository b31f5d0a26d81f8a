import { QklzlError } from "../../shared/errors.ts";
import { describeJsonType, type JsonObject, requireString } from "../../shared/json.ts";
import type { Consistency, JoinRequest } from "../api.ts";

// The HTTP API's own parameters (member ids, addresses, query flags). A kv command and its key are
// validated by src/kv/command.ts, the one rule set for them.

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
