import { describe, expect, test } from "bun:test";
import { decodeEntry, encodeCommand, encodeRequest, requestOf, validateCommand } from "../../src/kv/index.ts";
import type { KvRequest } from "../../src/kv/index.ts";
import { isQklzlError } from "../../src/shared/errors.ts";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return isQklzlError(error) ? error.code : `not a QklzlError: ${String(error)}`;
  }
  return "no error";
}

describe("kv command", () => {
  test("encode/decode round-trips put and delete, including unicode and empty values", () => {
    for (const command of [
      { op: "put", key: "k", value: "v" },
      { op: "put", key: "ключ ✓", value: "" },
      { op: "delete", key: "k" },
    ] as const) {
      expect(decodeEntry(encodeCommand(command))).toEqual({ request: requestOf(command), requestId: null, legacy: false });
    }
  });

  test("v2 entries round-trip in both forms (short arrays for plain put/delete, maps for the rest), with request ids", () => {
    const requests: KvRequest[] = [
      { kind: "put", put: { key: "k", value: "v" } },
      { kind: "delete_range", delete_range: { key: "k" } },
      { kind: "put", put: { key: "k", value: "v", prev_kv: true, lease: 3 } },
      { kind: "delete_range", delete_range: { key: "a", range_end: "\0" } },
      { kind: "txn", txn: { compare: [{ key: "a", target: "version", result: "=", value: 0 }], success: [{ put: { key: "a", value: "1" } }], failure: [] } },
      { kind: "compact", compact: { revision: 5 } },
    ];
    for (const request of requests) {
      expect(decodeEntry(encodeRequest(request))).toEqual({ request, requestId: null, legacy: false });
      expect(decodeEntry(encodeRequest(request, "id-1"))).toEqual({ request, requestId: "id-1", legacy: false });
    }
    expect(encodeRequest(requests[0]!).length).toBeLessThan(encodeRequest(requests[2]!).length);
    expect(codeOf(() => decodeEntry(new Uint8Array(Buffer.from("9410c0a0a0", "hex"))))).toBe("storage_corrupt"); // [16, nil, "", ""]: empty key
  });

  test("validation names the problem", () => {
    expect(codeOf(() => validateCommand(null))).toBe("bad_request");
    expect(codeOf(() => validateCommand([]))).toBe("bad_request");
    expect(codeOf(() => validateCommand({ op: "get", key: "a" }))).toBe("bad_request");
    expect(codeOf(() => validateCommand({ op: "put", key: "", value: "v" }))).toBe("bad_request");
    expect(codeOf(() => validateCommand({ op: "put", key: 5, value: "v" }))).toBe("bad_request");
    expect(codeOf(() => validateCommand({ op: "put", key: "a", value: 5 }))).toBe("bad_request");
    expect(codeOf(() => validateCommand({ op: "put", key: "a" }))).toBe("bad_request");
    expect(codeOf(() => validateCommand({ op: "put", key: "é".repeat(3), value: "v" }, { maxKeyBytes: 5, maxValueBytes: 10 }))).toBe("too_large");
    expect(codeOf(() => validateCommand({ op: "put", key: "a", value: "x".repeat(11) }, { maxKeyBytes: 5, maxValueBytes: 10 }))).toBe("too_large");
    expect(validateCommand({ op: "delete", key: "a", value: 3 })).toEqual({ op: "delete", key: "a" });
  });

  test("decoding garbage is storage corruption, not a crash of another kind", () => {
    expect(codeOf(() => decodeEntry(encodeCommand({ op: "put", key: "a", value: "b" }).subarray(0, 3)))).not.toBe("no error");
    expect(codeOf(() => decodeEntry(new Uint8Array([0x93, 0x07, 0xa1, 0x61, 0xa1, 0x62])))).toBe("storage_corrupt");
  });
});
