// Bad input never crashes a node and never touches data (issue 4): every row gets its exact status and code, the
// fake sees no mutation, and the server still answers a good request afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { postJson, startTestNode, type TestNode } from "./fake_api.ts";

const key_max = 64;
const value_max = 256;
const body_max = 1024;

let node: TestNode;
beforeAll(() => {
  node = startTestNode(1, { maxKeyBytes: key_max, maxValueBytes: value_max, maxBodyBytes: body_max });
});
afterAll(() => node.server.stop());

interface Row {
  name: string;
  method: string;
  path: string;
  body?: string;
  status: number;
  code: string;
  /** message: a fragment the message must contain, so the 400 names the problem. */
  message?: string;
}

const put = (fields: Record<string, unknown>) => JSON.stringify({ op: "put", ...fields });

const rows: Row[] = [
  { name: "malformed JSON", method: "POST", path: "/kv", body: '{"op":"put",', status: 400, code: "bad_request", message: "not valid JSON" },
  { name: "empty body", method: "POST", path: "/kv", body: "", status: 400, code: "bad_request", message: "empty" },
  { name: "JSON array", method: "POST", path: "/kv", body: "[1,2]", status: 400, code: "bad_request", message: "an array" },
  { name: "JSON null", method: "POST", path: "/kv", body: "null", status: 400, code: "bad_request", message: "null" },
  { name: "JSON string", method: "POST", path: "/kv", body: '"put"', status: 400, code: "bad_request", message: "a string" },
  { name: "missing op", method: "POST", path: "/kv", body: '{"key":"a","value":"b"}', status: 400, code: "bad_request", message: '"op"' },
  { name: "unknown op", method: "POST", path: "/kv", body: '{"op":"incr","key":"a"}', status: 400, code: "bad_request", message: "unknown op" },
  { name: "op not a string", method: "POST", path: "/kv", body: '{"op":1,"key":"a"}', status: 400, code: "bad_request", message: '"op"' },
  { name: "missing key", method: "POST", path: "/kv", body: '{"op":"put","value":"b"}', status: 400, code: "bad_request", message: '"key"' },
  { name: "key not a string", method: "POST", path: "/kv", body: put({ key: 5, value: "b" }), status: 400, code: "bad_request", message: "a number" },
  { name: "key null", method: "POST", path: "/kv", body: put({ key: null, value: "b" }), status: 400, code: "bad_request", message: "null" },
  { name: "empty key", method: "POST", path: "/kv", body: put({ key: "", value: "b" }), status: 400, code: "bad_request", message: "empty" },
  { name: "empty key on delete", method: "POST", path: "/kv", body: '{"op":"delete","key":""}', status: 400, code: "bad_request", message: "empty" },
  { name: "missing value", method: "POST", path: "/kv", body: '{"op":"put","key":"a"}', status: 400, code: "bad_request", message: '"value"' },
  { name: "value a number", method: "POST", path: "/kv", body: put({ key: "a", value: 7 }), status: 400, code: "bad_request", message: "a number" },
  { name: "value an object", method: "POST", path: "/kv", body: put({ key: "a", value: { x: 1 } }), status: 400, code: "bad_request", message: "an object" },
  { name: "lone surrogate key", method: "POST", path: "/kv", body: '{"op":"put","key":"\\ud800","value":"b"}', status: 400, code: "bad_request", message: "surrogate" },
  { name: "invalid UTF-8 body", method: "POST", path: "/kv", status: 400, code: "bad_request", message: "UTF-8" },
  { name: "key over limit (ASCII)", method: "POST", path: "/kv", body: put({ key: "k".repeat(key_max + 1), value: "b" }), status: 413, code: "too_large", message: "key" },
  { name: "key over limit in UTF-8 bytes only", method: "POST", path: "/kv", body: put({ key: "é".repeat(key_max / 2 + 1), value: "b" }), status: 413, code: "too_large", message: "key" },
  { name: "value over limit", method: "POST", path: "/kv", body: put({ key: "a", value: "v".repeat(value_max + 1) }), status: 413, code: "too_large", message: "value" },
  { name: "value over limit in UTF-8 bytes only", method: "POST", path: "/kv", body: put({ key: "a", value: "€".repeat(value_max / 3 + 1) }), status: 413, code: "too_large", message: "value" },
  { name: "body over limit", method: "POST", path: "/kv", body: put({ key: "a", value: "v".repeat(body_max) }), status: 413, code: "too_large", message: "body" },
  { name: "bad forward flag", method: "POST", path: "/kv?forward=maybe", body: put({ key: "a", value: "b" }), status: 400, code: "bad_request", message: "forward" },
  { name: "GET /kv without key", method: "GET", path: "/kv", status: 400, code: "bad_request", message: '"key"' },
  { name: "GET /kv empty key", method: "GET", path: "/kv?key=", status: 400, code: "bad_request", message: "empty" },
  { name: "GET /kv key over limit", method: "GET", path: `/kv?key=${"k".repeat(key_max + 1)}`, status: 413, code: "too_large" },
  { name: "GET /kv bad consistency", method: "GET", path: "/kv?key=a&consistency=eventual", status: 400, code: "bad_request", message: "consistency" },
  { name: "join missing id", method: "POST", path: "/join", body: '{"raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}', status: 400, code: "bad_request", message: '"id"' },
  { name: "join id a string", method: "POST", path: "/join", body: '{"id":"4","raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}', status: 400, code: "bad_request", message: "a string" },
  { name: "join id zero", method: "POST", path: "/join", body: '{"id":0,"raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}', status: 400, code: "bad_request", message: "positive" },
  { name: "join id fractional", method: "POST", path: "/join", body: '{"id":1.5,"raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:2"}', status: 400, code: "bad_request", message: "positive" },
  { name: "join raft_addr without port", method: "POST", path: "/join", body: '{"id":4,"raft_addr":"127.0.0.1","http_addr":"127.0.0.1:2"}', status: 400, code: "bad_request", message: "raft_addr" },
  { name: "join http_addr port out of range", method: "POST", path: "/join", body: '{"id":4,"raft_addr":"127.0.0.1:1","http_addr":"127.0.0.1:70000"}', status: 400, code: "bad_request", message: "http_addr" },
  { name: "join http_addr missing", method: "POST", path: "/join", body: '{"id":4,"raft_addr":"127.0.0.1:1"}', status: 400, code: "bad_request", message: "http_addr" },
  { name: "leave malformed JSON", method: "POST", path: "/leave", body: "{id:2}", status: 400, code: "bad_request", message: "JSON" },
  { name: "leave negative id", method: "POST", path: "/leave", body: '{"id":-2}', status: 400, code: "bad_request", message: "positive" },
  { name: "transfer-leader missing id", method: "POST", path: "/transfer-leader", body: "{}", status: 400, code: "bad_request", message: '"id"' },
  { name: "unknown route", method: "GET", path: "/nope", status: 404, code: "not_found" },
  { name: "trailing slash", method: "GET", path: "/kv/", status: 404, code: "not_found" },
  { name: "PUT /kv", method: "PUT", path: "/kv", body: put({ key: "a", value: "b" }), status: 405, code: "method_not_allowed" },
  { name: "DELETE /kv", method: "DELETE", path: "/kv?key=a", status: 405, code: "method_not_allowed" },
  { name: "GET /join", method: "GET", path: "/join", status: 405, code: "method_not_allowed" },
  { name: "POST /status", method: "POST", path: "/status", body: "{}", status: 405, code: "method_not_allowed" },
  { name: "PUT /snapshot", method: "PUT", path: "/snapshot", status: 405, code: "method_not_allowed" },
];

/** invalidUtf8Put is a well-formed JSON put whose value holds a byte that is not UTF-8 (0xff). */
function invalidUtf8Put(): Uint8Array {
  const text = new TextEncoder().encode('{"op":"put","key":"a","value":"x_"}');
  text[text.length - 3] = 0xff;
  return text;
}

describe("bad input table", () => {
  for (const row of rows) {
    test(`${row.name}: ${row.method} ${row.path.slice(0, 40)} -> ${row.status} ${row.code}`, async () => {
      const before = node.api.mutations().length;
      const init: RequestInit = { method: row.method, redirect: "manual" };
      if (row.name === "invalid UTF-8 body") init.body = invalidUtf8Put();
      else if (row.body !== undefined) init.body = row.body;
      const response = await fetch(node.base + row.path, init);
      expect(response.status).toBe(row.status);
      expect(response.headers.get("content-type")).toContain("application/json");
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.error).toBe(row.code);
      expect(typeof body.message).toBe("string");
      if (row.message !== undefined) expect(String(body.message)).toContain(row.message);
      expect(node.api.mutations().length).toBe(before);
      expect(node.api.data.size).toBe(0);
    });
  }

  test("405 answers carry an Allow header", async () => {
    const kv = await fetch(`${node.base}/kv`, { method: "PUT" });
    expect(kv.headers.get("allow")).toBe("GET, HEAD, POST");
    const join = await fetch(`${node.base}/join`);
    expect(join.headers.get("allow")).toBe("POST");
  });

  test("after all the bad input the node still serves a good write", async () => {
    const response = await postJson(`${node.base}/kv`, { op: "put", key: "a", value: "b" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, index: 1 });
    expect(node.api.data.get("a")).toBe("b");
  });
});
