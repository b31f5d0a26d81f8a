import { describe, expect, test } from "bun:test";
import { decodeEntry, encodeRequest, validateCompact, validateDeleteRange, validatePut, validateRange, validateTxn } from "../../src/kv/index.ts";
import { isQklzlError } from "../../src/shared/errors.ts";
import { limits } from "../../src/shared/limits.ts";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return isQklzlError(error) ? `${error.code}: ${error.message}` : `not a QklzlError: ${String(error)}`;
  }
  return "ok";
}

const bounds = { maxKeyBytes: 8, maxValueBytes: 4 };

describe("kv request validation (untrusted input)", () => {
  test("ranges: types, unknown fields (a typo must not read one key instead of many), enums, sizes", () => {
    expect(validateRange({ key: "a", range_end: "\0", limit: 2, sort_target: "mod", sort_order: "desc", keys_only: true })).toEqual({
      key: "a",
      range_end: "\0",
      limit: 2,
      sort_target: "mod",
      sort_order: "desc",
      keys_only: true,
    });
    expect(validateRange({ key: "a", range_end: "" })).toEqual({ key: "a" });
    expect(codeOf(() => validateRange({ key: "a", rangeEnd: "b" }))).toStartWith('bad_request: a range has an unknown field "rangeEnd"');
    expect(codeOf(() => validateRange({ key: "" }))).toStartWith("bad_request");
    expect(codeOf(() => validateRange({ key: "a", limit: -1 }))).toStartWith("bad_request: limit");
    expect(codeOf(() => validateRange({ key: "a", revision: 1.5 }))).toStartWith("bad_request: revision");
    expect(codeOf(() => validateRange({ key: "a", sort_target: "size" }))).toStartWith("bad_request: sort_target");
    expect(codeOf(() => validateRange({ key: "a", count_only: "yes" }))).toStartWith("bad_request: count_only");
    expect(codeOf(() => validateRange({ key: "a".repeat(9) }, bounds))).toStartWith("too_large: key");
    expect(codeOf(() => validateRange({ key: "a", range_end: "é".repeat(5) }, bounds))).toStartWith("too_large: range_end");
  });

  test("puts and deletes", () => {
    expect(validatePut({ key: "k", value: "v", prev_kv: true, lease: 7 })).toEqual({ key: "k", value: "v", prev_kv: true, lease: 7 });
    expect(validatePut({ key: "k", ignore_value: true })).toEqual({ key: "k", value: "", ignore_value: true });
    expect(codeOf(() => validatePut({ key: "k", value: "v", ignore_value: true }))).toStartWith("bad_request: a put with ignore_value");
    expect(codeOf(() => validatePut({ key: "k" }))).toStartWith("bad_request: value");
    expect(codeOf(() => validatePut({ key: "k", value: "vvvvv" }, bounds))).toStartWith("too_large: value");
    expect(validateDeleteRange({ key: "a", range_end: "b", prev_kv: false })).toEqual({ key: "a", range_end: "b", prev_kv: false });
    expect(codeOf(() => validateDeleteRange({ key: "a", value: "x" }))).toStartWith('bad_request: a delete_range has an unknown field "value"');
    expect(codeOf(() => validateCompact({ revision: 0 }))).toStartWith("bad_request");
    expect(validateCompact({ revision: 9 })).toEqual({ revision: 9 });
  });

  test("txns: compares, one kind per operation, the ops limit, nesting, duplicate keys on a path", () => {
    const put = (key: string) => ({ put: { key, value: "v" } });
    expect(codeOf(() => validateTxn({ compare: [{ key: "a", target: "version", result: "==", value: 1 }] }))).toStartWith("bad_request: result");
    expect(codeOf(() => validateTxn({ compare: [{ key: "a", target: "mod", result: "=", value: "x" }] }))).toStartWith("bad_request");
    expect(codeOf(() => validateTxn({ success: [{ put: { key: "a", value: "1" }, range: { key: "a" } }] }))).toStartWith("bad_request: an operation has exactly one");
    expect(codeOf(() => validateTxn({ success: [{ get: { key: "a" } }] }))).toStartWith('bad_request: unknown operation "get"');
    const many = Array.from({ length: limits.txn_ops_max + 1 }, (_, i) => put(`k${i}`));
    expect(codeOf(() => validateTxn({ success: many }))).toStartWith("too_many_ops");
    // 128 in success plus 1 nested elsewhere: counted over the whole txn.
    expect(codeOf(() => validateTxn({ success: many.slice(1), failure: [{ txn: { success: [put("x")] } }] }))).toStartWith("too_many_ops");
    expect(validateTxn({ success: many.slice(1) }).success.length).toBe(limits.txn_ops_max);
    // --max-txn-ops: a lower or higher bound for the request; a log entry decodes whatever the local flag.
    const bounds = (maxTxnOps: number) => ({ maxKeyBytes: 4096, maxValueBytes: 1024, maxTxnOps });
    expect(codeOf(() => validateTxn({ success: many.slice(0, 3) }, bounds(2)))).toStartWith("too_many_ops: success has 3 entries; the maximum is 2");
    expect(codeOf(() => validateTxn({ success: [put("a"), { txn: { success: [put("b")] } }] }, bounds(2)))).toStartWith("too_many_ops: the txn has 3 operations; the maximum is 2");
    const compares = [1, 2, 3].map((i) => ({ key: `c${i}`, target: "version", result: "=", value: 0 }));
    expect(codeOf(() => validateTxn({ compare: compares }, bounds(2)))).toStartWith("too_many_ops");
    const big = validateTxn({ success: many }, bounds(1000));
    expect(big.success.length).toBe(limits.txn_ops_max + 1);
    expect(decodeEntry(encodeRequest({ kind: "txn", txn: big })).request).toEqual({ kind: "txn", txn: big });
    let deep: unknown = { success: [] };
    for (let i = 0; i < limits.txn_depth_max; i++) deep = { success: [{ txn: deep }] };
    expect(codeOf(() => validateTxn(deep))).toStartWith("too_many_ops");
    expect(codeOf(() => validateTxn({ success: [put("a"), put("a")] }))).toStartWith('duplicate_key: key "a"');
    expect(codeOf(() => validateTxn({ success: [put("ab"), { delete_range: { key: "a", range_end: "b" } }] }))).toStartWith("duplicate_key");
    // etcd's checkIntervals misses this order (a nested put, then a delete of the same key at the outer level):
    expect(codeOf(() => validateTxn({ success: [{ txn: { success: [put("a")] } }, { delete_range: { key: "a" } }] }))).toStartWith("duplicate_key");
    // Exclusive branches, overlapping deletes, and the same key in success and failure are fine.
    expect(codeOf(() => validateTxn({ success: [{ txn: { success: [put("a")], failure: [put("a")] } }] }))).toBe("ok");
    expect(codeOf(() => validateTxn({ success: [{ delete_range: { key: "a", range_end: "c" } }, { delete_range: { key: "b" } }] }))).toBe("ok");
    expect(codeOf(() => validateTxn({ success: [put("a")], failure: [put("a")] }))).toBe("ok");
  });
});
