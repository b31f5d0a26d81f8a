import type { KeyValue, RangeResponse, ResponseOp, TxnResponse } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import { describeJsonType } from "../../shared/json.ts";

/**
 * Encoding of keys and values on the MVCC routes: "utf8" (the default) sends them as JSON strings; "base64"
 * as the base64 of their UTF-8 bytes, both ways (the store keeps strings, so decoded bytes must be UTF-8).
 */
export type Encoding = "utf8" | "base64";

const utf8Strict = new TextDecoder("utf-8", { fatal: true });

export function parseEncoding(value: unknown): Encoding {
  if (value === undefined || value === null || value === "utf8" || value === "utf-8") return "utf8";
  if (value === "base64") return "base64";
  throw new QklzlError("bad_request", `encoding must be "utf8" or "base64", got ${JSON.stringify(value)}`);
}

/** decodeText reads a key or value sent in `encoding`; base64 that is not base64, or not UTF-8, is a 400. */
export function decodeText(value: unknown, field: string, encoding: Encoding): string {
  if (typeof value !== "string") throw new QklzlError("bad_request", `field "${field}" must be a string, got ${describeJsonType(value)}`);
  if (encoding === "utf8") return value;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new QklzlError("bad_request", `field "${field}" is not valid base64`);
  }
  try {
    return utf8Strict.decode(Buffer.from(value, "base64"));
  } catch {
    throw new QklzlError("bad_request", `field "${field}" is base64 of bytes that are not UTF-8 (the store keeps UTF-8 text)`);
  }
}

export function encodeText(value: string, encoding: Encoding): string {
  return encoding === "utf8" ? value : Buffer.from(value, "utf8").toString("base64");
}

/** kvJson: one kv as the API shows it (etcd's field names; value left out with keys_only, as the store does). */
export function kvJson(kv: KeyValue, encoding: Encoding): Record<string, unknown> {
  return {
    key: encodeText(kv.key, encoding),
    value: encodeText(kv.value, encoding),
    create_revision: kv.create_revision,
    mod_revision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  };
}

export function rangeJson(range: RangeResponse, encoding: Encoding): Record<string, unknown> {
  return { kvs: range.kvs.map((kv) => kvJson(kv, encoding)), count: range.count, more: range.more, revision: range.revision };
}

function responseOpJson(op: ResponseOp, encoding: Encoding): Record<string, unknown> {
  if ("range" in op) return { range: rangeJson(op.range, encoding) };
  if ("put" in op) {
    const put = op.put;
    return { put: put.prev_kv === undefined ? { revision: put.revision } : { revision: put.revision, prev_kv: kvJson(put.prev_kv, encoding) } };
  }
  if ("delete_range" in op) {
    const d = op.delete_range;
    const out: Record<string, unknown> = { revision: d.revision, deleted: d.deleted };
    if (d.prev_kvs !== undefined) out.prev_kvs = d.prev_kvs.map((kv) => kvJson(kv, encoding));
    return { delete_range: out };
  }
  return { txn: txnJson(op.txn, encoding) };
}

export function txnJson(txn: TxnResponse, encoding: Encoding): Record<string, unknown> {
  return { succeeded: txn.succeeded, responses: txn.responses.map((op) => responseOpJson(op, encoding)), revision: txn.revision };
}
