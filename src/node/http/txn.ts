import { type CommandLimits, type KvRequest, validateKvRequest } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import { describeJsonType, type JsonObject } from "../../shared/json.ts";
import { leaderOnly, readObject, type RouteContext } from "./context.ts";
import { decodeText, type Encoding, parseEncoding, txnJson } from "./kv_json.ts";
import type { RequestTarget } from "./url.ts";
import { parseFlag } from "./validate.ts";

// POST /txn {"compare":[…],"success":[…],"failure":[…]} and POST /compact {"revision"}. The txn shapes are
// src/kv's (ops {"put"|"range"|"delete_range"|"txn": {...}}, compares {"key","target","result","value"}),
// and etcd's JSON gateway spellings are accepted too (request_put…, "MOD"/"EQUAL", "mod_revision": N).

const op_aliases: Record<string, string> = {
  put: "put", range: "range", delete_range: "delete_range", txn: "txn",
  request_put: "put", request_range: "range", request_delete_range: "delete_range", request_txn: "txn",
};

const target_aliases: Record<string, string> = {
  value: "value", version: "version", create: "create", mod: "mod", create_revision: "create", mod_revision: "mod", lease: "lease",
};

const result_aliases: Record<string, string> = {
  "=": "=", "!=": "!=", "<": "<", ">": ">", equal: "=", not_equal: "!=", less: "<", greater: ">",
};

/** compare_value_fields: etcd puts a compare's operand in a field named after its target. */
const compare_value_fields: Record<string, string> = { value: "value", version: "version", create: "create_revision", mod: "mod_revision", lease: "lease" };

function object(input: unknown, what: string): JsonObject {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new QklzlError("bad_request", `${what} must be a JSON object, got ${describeJsonType(input)}`);
  }
  return input as JsonObject;
}

/** decodeKeys decodes key, range_end and value of one put/range/delete (the rest is validated by src/kv). */
function decodeKeys(input: unknown, what: string, encoding: Encoding): JsonObject {
  const fields = { ...object(input, what) };
  if (encoding === "utf8") return fields;
  for (const name of ["key", "range_end", "value"]) {
    if (fields[name] !== undefined) fields[name] = decodeText(fields[name], `${what}.${name}`, encoding);
  }
  return fields;
}

function normalizeCompare(input: unknown, encoding: Encoding): JsonObject {
  const fields = decodeKeys(input, "a compare", encoding);
  const target = target_aliases[String(fields.target ?? "").toLowerCase()];
  if (target === undefined) throw new QklzlError("bad_request", `a compare's target must be value, version, create, mod or lease, got ${JSON.stringify(fields.target ?? null)}`);
  const result = result_aliases[String(fields.result ?? "").toLowerCase()];
  if (result === undefined) throw new QklzlError("bad_request", `a compare's result must be =, !=, < or >, got ${JSON.stringify(fields.result ?? null)}`);
  const operandField = compare_value_fields[target]!;
  let value = fields.value;
  if (operandField !== "value" && fields[operandField] !== undefined) {
    if (value !== undefined) throw new QklzlError("bad_request", `a compare has both "value" and "${operandField}"`);
    value = fields[operandField];
    delete fields[operandField];
  }
  // etcd's gateway sends int64 as strings ("7").
  if (target !== "value" && typeof value === "string" && /^[0-9]{1,16}$/.test(value)) value = Number(value);
  return { ...fields, target, result, value };
}

function normalizeOp(input: unknown, encoding: Encoding): JsonObject {
  const fields = object(input, "an operation");
  const names = Object.keys(fields);
  if (names.length !== 1) throw new QklzlError("bad_request", 'an operation has exactly one of "range", "put", "delete_range", "txn"');
  const name = op_aliases[names[0]!];
  if (name === undefined) throw new QklzlError("bad_request", `unknown operation ${JSON.stringify(names[0])}`);
  const inner = fields[names[0]!];
  if (name === "txn") return { txn: normalizeTxn(object(inner, "a nested txn"), encoding) };
  return { [name]: decodeKeys(inner, `a ${name}`, encoding) };
}

function list(input: unknown, name: string): unknown[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw new QklzlError("bad_request", `${name} must be an array, got ${describeJsonType(input)}`);
  return input;
}

function normalizeTxn(body: JsonObject, encoding: Encoding): JsonObject {
  return {
    compare: list(body.compare, "compare").map((c) => normalizeCompare(c, encoding)),
    success: list(body.success, "success").map((op) => normalizeOp(op, encoding)),
    failure: list(body.failure, "failure").map((op) => normalizeOp(op, encoding)),
  };
}

/** parseTxnBody: the request, request id and encoding of a POST /txn body (shape checks are src/kv's validateTxn). */
export function parseTxnBody(body: JsonObject, bounds: CommandLimits): { request: KvRequest; requestId: string | undefined; encoding: Encoding } {
  for (const name of Object.keys(body)) {
    if (!["compare", "success", "failure", "request_id", "encoding"].includes(name)) {
      throw new QklzlError("bad_request", `a txn has an unknown field ${JSON.stringify(name)}`);
    }
  }
  const encoding = parseEncoding(body.encoding);
  const requestId = body.request_id;
  if (requestId !== undefined && typeof requestId !== "string") throw new QklzlError("bad_request", 'field "request_id" must be a string');
  const { compare, success, failure } = normalizeTxn(body, encoding);
  return { request: validateKvRequest({ kind: "txn", txn: { compare, success, failure } }, bounds), requestId, encoding };
}

function forwardWanted(target: RequestTarget): boolean {
  return target.query.length === 0 ? false : parseFlag("forward", new URLSearchParams(target.query).get("forward"));
}

/** postTxn proposes the txn (leader only; ?forward=true as POST /kv) and answers {"succeeded","responses","revision"}. */
export async function postTxn(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const forward = forwardWanted(target);
  const { text, body } = await readObject(ctx, req);
  const { request, requestId, encoding } = parseTxnBody(body, ctx.commandLimits);
  return leaderOnly(
    ctx,
    req,
    target,
    { wanted: forward, body: text },
    () => ctx.api.kvRequest(request, requestId),
    (applied) => {
      if (applied.response.kind !== "txn") throw new QklzlError("internal", `a txn answered ${applied.response.kind}`);
      return Response.json({ ...txnJson(applied.response.txn, encoding), index: applied.index });
    },
  );
}

/** postCompact compacts history up to `revision` on every replica (a log entry); answers the compacted revision. */
export async function postCompact(ctx: RouteContext, req: Request, target: RequestTarget): Promise<Response> {
  const forward = forwardWanted(target);
  const { text, body } = await readObject(ctx, req);
  for (const name of Object.keys(body)) {
    if (name !== "revision") throw new QklzlError("bad_request", `a compact has an unknown field ${JSON.stringify(name)}`);
  }
  const request = validateKvRequest({ kind: "compact", compact: { revision: body.revision } }, ctx.commandLimits);
  return leaderOnly(
    ctx,
    req,
    target,
    { wanted: forward, body: text },
    () => ctx.api.kvRequest(request),
    (applied) => {
      if (applied.response.kind !== "compact") throw new QklzlError("internal", `a compact answered ${applied.response.kind}`);
      const { revision, compact_revision } = applied.response.compact;
      return Response.json({ ok: true, index: applied.index, revision, compact_revision });
    },
  );
}
