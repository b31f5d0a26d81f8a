import { describe, expect, test } from "bun:test";
import { decodeEntry, encodeCommand, requestOf, validateCommand } from "../../src/kv/index.ts";
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
