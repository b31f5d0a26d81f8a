// Pure helpers of the HTTP layer: URL splitting, UTF-8 sizing, address and flag parsing.
import { describe, expect, test } from "bun:test";
import { utf8ByteLength, validateKey as checkKey } from "../../src/kv/command.ts";
import { parseListen } from "../../src/node/http/server.ts";
import { plainKey, requestTarget, withoutParam } from "../../src/node/http/url.ts";
import { checkHostPort, parseFlag } from "../../src/node/http/validate.ts";
import { isQklzlError } from "../../src/shared/errors.ts";

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return isQklzlError(error) ? error.code : `non-qklzl: ${String(error)}`;
  }
  return "no error";
}

describe("requestTarget", () => {
  test("splits path and query without a URL object", () => {
    expect(requestTarget("http://127.0.0.1:8001/kv?key=a&forward=true")).toEqual({
      path: "/kv",
      pathAndQuery: "/kv?key=a&forward=true",
      query: "key=a&forward=true",
    });
    expect(requestTarget("http://[::1]:8001/status")).toEqual({ path: "/status", pathAndQuery: "/status", query: "" });
    expect(requestTarget("http://h:1/kv?")).toEqual({ path: "/kv", pathAndQuery: "/kv?", query: "" });
  });

  test("withoutParam drops only the named parameter", () => {
    expect(withoutParam(requestTarget("http://h:1/kv?forward=true"), "forward")).toBe("/kv");
    expect(withoutParam(requestTarget("http://h:1/kv?a=1&forward=true&b=2"), "forward")).toBe("/kv?a=1&b=2");
    expect(withoutParam(requestTarget("http://h:1/kv?a=1"), "forward")).toBe("/kv?a=1");
  });
});

describe("plainKey (the GET /kv?key=K fast path)", () => {
  test("gives the key exactly as URLSearchParams does, and null for any query it must not cut by hand", () => {
    const plain = ["key=a", "key=", "key=bench-key-00001234", "key=a/b.c~d!*()", "key=%C3%A9"];
    for (const query of plain) {
      const expected = new URLSearchParams(query).get("key");
      if (query.includes("%")) expect(plainKey(query)).toBeNull();
      else expect(plainKey(query)).toBe(expected!);
    }
    for (const query of ["key=a+b", "key=a%20b", "key=a&consistency=stale", "key=a&key=b", "key=a=b", "prefix=a", "keys=a", "xkey=a", "", "key"]) {
      expect(plainKey(query)).toBeNull();
    }
  });
});

describe("sizes and keys", () => {
  test("utf8ByteLength counts bytes, not UTF-16 units", () => {
    expect(utf8ByteLength("abc")).toBe(3);
    expect(utf8ByteLength("é")).toBe(2);
    expect(utf8ByteLength("€")).toBe(3);
    expect(utf8ByteLength("😀")).toBe(4);
  });

  test("checkKey: the limit is in UTF-8 bytes, at the exact boundary", () => {
    expect(checkKey("é".repeat(5), 10)).toBe("é".repeat(5));
    expect(codeOf(() => checkKey("é".repeat(5) + "a", 10))).toBe("too_large");
    expect(checkKey("😀😀", 8)).toBe("😀😀");
    expect(codeOf(() => checkKey("😀😀", 7))).toBe("too_large");
    expect(codeOf(() => checkKey("", 10))).toBe("bad_request");
    expect(codeOf(() => checkKey("\ud800", 10))).toBe("bad_request");
  });
});

describe("addresses and flags", () => {
  test("checkHostPort", () => {
    for (const good of ["127.0.0.1:8001", "node-1.example:1", "[::1]:65535", "localhost:8001"]) {
      expect(checkHostPort(good, "a")).toBe(good);
    }
    for (const bad of ["127.0.0.1", ":8001", "127.0.0.1:0", "h:65536", "h:x", "::1:80", "a b:1", "h/x:1", "h:"]) {
      expect(codeOf(() => checkHostPort(bad, "a"))).toBe("bad_request");
    }
  });

  test("parseListen", () => {
    expect(parseListen("127.0.0.1:0")).toEqual({ host: "127.0.0.1", hostname: "127.0.0.1", port: 0 });
    expect(parseListen("[::1]:8001")).toEqual({ host: "[::1]", hostname: "::1", port: 8001 });
    expect(() => parseListen("8001")).toThrow("expected host:port");
    expect(() => parseListen("h:99999")).toThrow("expected host:port");
  });

  test("parseFlag", () => {
    expect(parseFlag("forward", null)).toBe(false);
    expect(parseFlag("forward", "true")).toBe(true);
    expect(parseFlag("forward", "1")).toBe(true);
    expect(parseFlag("forward", "false")).toBe(false);
    expect(codeOf(() => parseFlag("forward", "yes"))).toBe("bad_request");
  });
});
