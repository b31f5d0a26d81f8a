import { type CommandLimits, type Compare, type KvRequest, type RequestOp, validateKvRequest } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import { describeJsonType, type JsonObject } from "../../shared/json.ts";
import type { AppliedRequest } from "../api.ts";
import { decodeText, type Encoding, encodeText, kvJson, parseEncoding } from "./kv_json.ts";

/**
 * The extended POST /kv: a put or delete with any of these fields goes through the MVCC request path and
 * answers with revisions; one without keeps the original command and its answer ({"ok","index"}) byte for byte.
 */
const extended_fields = ["if", "prev_kv", "request_id", "lease", "ignore_value", "range_end", "encoding"] as const;

const write_fields = new Set<string>(["op", "key", "value", ...extended_fields]);

export function isExtendedWrite(body: JsonObject): boolean {
  return extended_fields.some((name) => body[name] !== undefined);
}

/** ExtendedWrite: the request to propose, its id, and how to turn the applied answer into the HTTP answer. */
export interface ExtendedWrite {
  request: KvRequest;
  requestId: string | undefined;
  answer(applied: AppliedRequest): Response;
}

/** if_fields: the compares `"if"` may hold (all must hold), each against the written key with "=". */
const if_fields: Record<string, Compare["target"]> = { value: "value", version: "version", mod_revision: "mod", create_revision: "create", lease: "lease" };

function parseIf(input: unknown, key: string, encoding: Encoding): Compare[] {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new QklzlError("bad_request", `field "if" must be an object such as {"mod_revision":7}, got ${describeJsonType(input)}`);
  }
  const compares: Compare[] = [];
  for (const [name, expected] of Object.entries(input)) {
    const target = if_fields[name];
    if (target === undefined) {
      throw new QklzlError("bad_request", `"if" has an unknown field ${JSON.stringify(name)}; expected value, version, mod_revision, create_revision or lease`);
    }
    if (target === "value") compares.push({ key, target, result: "=", value: decodeText(expected, "if.value", encoding) });
    else {
      if (typeof expected !== "number" || !Number.isSafeInteger(expected) || expected < 0) {
        throw new QklzlError("bad_request", `"if.${name}" must be a non-negative integer`);
      }
      compares.push({ key, target, result: "=", value: expected });
    }
  }
  if (compares.length === 0) throw new QklzlError("bad_request", '"if" needs at least one compare');
  return compares;
}

function optionalFlag(body: JsonObject, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw new QklzlError("bad_request", `field "${name}" must be true or false`);
  return value;
}

function requestId(body: JsonObject): string | undefined {
  const id = body.request_id;
  if (id === undefined) return undefined;
  if (typeof id !== "string") throw new QklzlError("bad_request", `field "request_id" must be a string, got ${describeJsonType(id)}`);
  return id;
}

/**
 * parseExtendedWrite builds the request of an extended put/delete. With "if", it is a txn: the write when
 * every compare holds, else a read of the key, so a failed compare answers 412 compare_failed with the kv
 * as it is (atomically with the compare: the same revision).
 */
export function parseExtendedWrite(body: JsonObject, bounds: CommandLimits): ExtendedWrite {
  for (const name of Object.keys(body)) {
    if (!write_fields.has(name)) throw new QklzlError("bad_request", `unknown field ${JSON.stringify(name)} in a conditional or extended write`);
  }
  const encoding = parseEncoding(body.encoding);
  const op = body.op;
  if (op !== "put" && op !== "delete") throw new QklzlError("bad_request", `field "op" must be "put" or "delete", got ${JSON.stringify(op ?? null)}`);
  const key = decodeText(body.key, "key", encoding);
  const prevKv = optionalFlag(body, "prev_kv");
  let write: RequestOp;
  if (op === "put") {
    if (body.range_end !== undefined) throw new QklzlError("bad_request", 'a put takes no "range_end"');
    const ignoreValue = optionalFlag(body, "ignore_value");
    const put: Record<string, unknown> = { key, value: ignoreValue ? "" : decodeText(body.value, "value", encoding) };
    if (body.lease !== undefined) put.lease = body.lease;
    if (prevKv !== undefined) put.prev_kv = prevKv;
    if (ignoreValue !== undefined) put.ignore_value = ignoreValue;
    write = { put: put as never };
  } else {
    if (body.value !== undefined || body.lease !== undefined || body.ignore_value !== undefined) {
      throw new QklzlError("bad_request", 'a delete takes no "value", "lease" or "ignore_value"');
    }
    const del: Record<string, unknown> = { key };
    if (body.range_end !== undefined) del.range_end = decodeText(body.range_end, "range_end", encoding);
    if (prevKv !== undefined) del.prev_kv = prevKv;
    write = { delete_range: del as never };
  }
  const id = requestId(body);
  if (body.if === undefined) {
    const plain: KvRequest = "put" in write ? { kind: "put", put: write.put } : { kind: "delete_range", delete_range: write.delete_range };
    const request = validateKvRequest(plain, bounds);
    return { request, requestId: id, answer: (applied) => Response.json(writeAnswer(applied.index, applied.response, encoding)) };
  }
  const compare = parseIf(body.if, key, encoding);
  const request = validateKvRequest({ kind: "txn", txn: { compare, success: [write], failure: [{ range: { key } }] } }, bounds);
  return {
    request,
    requestId: id,
    answer: (applied) => {
      const response = applied.response;
      if (response.kind !== "txn") throw new QklzlError("internal", `a conditional write answered ${response.kind}`);
      const txn = response.txn;
      const first = txn.responses[0];
      if (!txn.succeeded) {
        const current = first !== undefined && "range" in first ? first.range.kvs[0] : undefined;
        const details = { key: encodeText(key, encoding), kv: current === undefined ? null : kvJson(current, encoding), revision: txn.revision, index: applied.index };
        const now = current === undefined ? "it does not exist" : `it is at mod_revision ${current.mod_revision}, version ${current.version}${current.lease !== 0 ? `, lease ${current.lease}` : ""}`;
        throw new QklzlError("compare_failed", `the compare of ${JSON.stringify(key)} failed (${now}); nothing was written`, details);
      }
      if (first === undefined) throw new QklzlError("internal", "a conditional write answered no response");
      const inner = "put" in first ? ({ kind: "put", put: first.put } as const) : "delete_range" in first ? ({ kind: "delete_range", delete_range: first.delete_range } as const) : null;
      if (inner === null) throw new QklzlError("internal", "a conditional write answered neither a put nor a delete");
      return Response.json(writeAnswer(applied.index, inner, encoding));
    },
  };
}

function writeAnswer(index: number, response: AppliedRequest["response"], encoding: Encoding): Record<string, unknown> {
  if (response.kind === "put") {
    const out: Record<string, unknown> = { ok: true, index, revision: response.put.revision };
    if (response.put.prev_kv !== undefined) out.prev_kv = kvJson(response.put.prev_kv, encoding);
    return out;
  }
  if (response.kind === "delete_range") {
    const d = response.delete_range;
    const out: Record<string, unknown> = { ok: true, index, revision: d.revision, deleted: d.deleted };
    if (d.prev_kvs !== undefined) out.prev_kvs = d.prev_kvs.map((kv) => kvJson(kv, encoding));
    return out;
  }
  throw new QklzlError("internal", `a put or delete answered ${response.kind}`);
}
