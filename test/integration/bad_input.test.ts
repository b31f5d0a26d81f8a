import { afterAll, beforeAll, expect, test } from "bun:test";
import type { StatusJson } from "../../src/node/api.ts";
import { check, Cluster, describeReply, request, type RequestOptions } from "../../scenarios/harness.ts";

// The bad-input table of issue 4 against a running node: each request gets its exact status and error code, the
// body is {"error","message"}, the node keeps running, and nothing reaches the log or the map.

const cluster = new Cluster({ name: "it-badinput", size: 1 });
const timeout = 30_000;
let before: StatusJson;

beforeAll(async () => {
  await cluster.explain(async () => {
    await cluster.start(1, { bootstrap: true });
    await cluster.waitForLeader({ among: [1] });
    check((await cluster.put(1, "keep", "original")).status === 200, "seed write accepted");
    const status = await cluster.status(1);
    check(status !== null, "node 1 answers /status");
    before = status;
  });
}, { timeout });

afterAll(async () => {
  await cluster.destroy();
});

const kib = 1024;
const mib = 1024 * kib;

interface Case {
  name: string;
  path: string;
  options: RequestOptions;
  status: number;
  code: string;
}

const post = (json: unknown): RequestOptions => ({ json });
const raw = (text: string): RequestOptions => ({ raw: text, contentType: "application/json" });

const cases: Case[] = [
  { name: "malformed JSON", path: "/kv", options: raw('{"op":"put","key":'), status: 400, code: "bad_request" },
  { name: "empty body", path: "/kv", options: raw(""), status: 400, code: "bad_request" },
  { name: "JSON array body", path: "/kv", options: post([1, 2]), status: 400, code: "bad_request" },
  { name: "JSON null body", path: "/kv", options: raw("null"), status: 400, code: "bad_request" },
  { name: "JSON string body", path: "/kv", options: raw('"put"'), status: 400, code: "bad_request" },
  { name: "missing op", path: "/kv", options: post({ key: "k", value: "v" }), status: 400, code: "bad_request" },
  { name: "unknown op", path: "/kv", options: post({ op: "increment", key: "k" }), status: 400, code: "bad_request" },
  { name: "op of wrong type", path: "/kv", options: post({ op: 1, key: "k", value: "v" }), status: 400, code: "bad_request" },
  { name: "put without key", path: "/kv", options: post({ op: "put", value: "v" }), status: 400, code: "bad_request" },
  { name: "put without value", path: "/kv", options: post({ op: "put", key: "k" }), status: 400, code: "bad_request" },
  { name: "delete without key", path: "/kv", options: post({ op: "delete" }), status: 400, code: "bad_request" },
  { name: "key of wrong type", path: "/kv", options: post({ op: "put", key: 5, value: "v" }), status: 400, code: "bad_request" },
  { name: "value of wrong type", path: "/kv", options: post({ op: "put", key: "k", value: { nested: true } }), status: 400, code: "bad_request" },
  { name: "value number", path: "/kv", options: post({ op: "put", key: "keep", value: 42 }), status: 400, code: "bad_request" },
  { name: "empty key on put", path: "/kv", options: post({ op: "put", key: "", value: "v" }), status: 400, code: "bad_request" },
  { name: "empty key on delete", path: "/kv", options: post({ op: "delete", key: "" }), status: 400, code: "bad_request" },
  { name: "empty key on GET", path: "/kv?key=", options: {}, status: 400, code: "bad_request" },
  { name: "GET without key", path: "/kv", options: {}, status: 400, code: "bad_request" },
  { name: "unknown consistency", path: "/kv?key=keep&consistency=sometimes", options: {}, status: 400, code: "bad_request" },
  { name: "key over 4 KiB", path: "/kv", options: post({ op: "put", key: "k".repeat(4 * kib + 1), value: "v" }), status: 413, code: "too_large" },
  { name: "delete key over 4 KiB", path: "/kv", options: post({ op: "delete", key: "k".repeat(4 * kib + 1) }), status: 413, code: "too_large" },
  { name: "value over 1 MiB", path: "/kv", options: post({ op: "put", key: "big", value: "v".repeat(mib + 1) }), status: 413, code: "too_large" },
  {
    name: "body over 2 MiB (value within limits)",
    path: "/kv",
    options: post({ op: "put", key: "big", value: "v", pad: "p".repeat(2 * mib) }),
    status: 413,
    code: "too_large",
  },
  // The MVCC routes (issue 12): refused before anything is proposed.
  { name: "if with an unknown compare", path: "/kv", options: post({ op: "put", key: "k", value: "v", if: { size: 1 } }), status: 400, code: "bad_request" },
  { name: "if with a string revision", path: "/kv", options: post({ op: "put", key: "k", value: "v", if: { mod_revision: "7" } }), status: 400, code: "bad_request" },
  { name: "extended put with an unknown field", path: "/kv", options: post({ op: "put", key: "k", value: "v", prev_kv: true, pad: 1 }), status: 400, code: "bad_request" },
  { name: "request_id not a string", path: "/kv", options: post({ op: "put", key: "k", value: "v", request_id: 7 }), status: 400, code: "bad_request" },
  { name: "conditional value over 1 MiB", path: "/kv", options: post({ op: "put", key: "big", value: "v".repeat(mib + 1), if: { version: 0 } }), status: 413, code: "too_large" },
  { name: "bad base64 key", path: "/kv", options: post({ op: "put", key: "%%", value: "", encoding: "base64" }), status: 400, code: "bad_request" },
  { name: "txn not an object", path: "/txn", options: raw("[]"), status: 400, code: "bad_request" },
  { name: "txn unknown operation", path: "/txn", options: post({ success: [{ upsert: { key: "k" } }] }), status: 400, code: "bad_request" },
  {
    name: "txn with 129 operations",
    path: "/txn",
    options: post({ success: Array.from({ length: 129 }, (_, i) => ({ put: { key: `m${i}`, value: "" } })) }),
    status: 400,
    code: "too_many_ops",
  },
  { name: "txn writing one key twice", path: "/txn", options: post({ success: [{ put: { key: "k", value: "1" } }, { put: { key: "k", value: "2" } }] }), status: 400, code: "duplicate_key" },
  { name: "txn value over 1 MiB", path: "/txn", options: post({ success: [{ put: { key: "big", value: "v".repeat(mib + 1) } }] }), status: 413, code: "too_large" },
  { name: "txn body over 2 MiB", path: "/txn", options: post({ success: [], pad: "p".repeat(2 * mib) }), status: 413, code: "too_large" },
  { name: "compact revision 0", path: "/compact", options: post({ revision: 0 }), status: 400, code: "bad_request" },
  { name: "compact revision as a string", path: "/compact", options: post({ revision: "3" }), status: 400, code: "bad_request" },
  { name: "range with a bad limit", path: "/kv?prefix=a&limit=ten", options: {}, status: 400, code: "bad_request" },
  { name: "range with an unknown sort", path: "/kv?prefix=a&sort=size", options: {}, status: 400, code: "bad_request" },
  { name: "range at a future revision", path: "/kv?key=keep&revision=999999", options: {}, status: 400, code: "future_revision" },
  { name: "wrong method GET /txn", path: "/txn", options: {}, status: 405, code: "method_not_allowed" },
  { name: "unknown route", path: "/nope", options: {}, status: 404, code: "not_found" },
  { name: "unknown route POST", path: "/kv/extra", options: post({ op: "put", key: "k", value: "v" }), status: 404, code: "not_found" },
  { name: "wrong method DELETE /kv", path: "/kv", options: { method: "DELETE" }, status: 405, code: "method_not_allowed" },
  { name: "wrong method PUT /kv", path: "/kv", options: { method: "PUT", json: { op: "put", key: "k", value: "v" } }, status: 405, code: "method_not_allowed" },
  { name: "wrong method POST /status", path: "/status", options: post({}), status: 405, code: "method_not_allowed" },
];

for (const c of cases) {
  test(`${c.name} -> ${c.status} ${c.code}`, async () => {
    await cluster.explain(async () => {
      const reply = await request(cluster.node(1).httpAddr, c.path, c.options);
      check(reply.status === c.status && reply.json?.error === c.code, `expected ${c.status} ${c.code}, got ${describeReply(reply)}`);
      expect(typeof reply.json?.message).toBe("string");
      expect(String(reply.json?.message).length).toBeGreaterThan(0);
      check(cluster.isRunning(1), `node 1 still runs (${cluster.describeExit(1)})`);
    });
  }, timeout);
}

test("after the whole table the data is untouched and the node still serves", async () => {
  await cluster.explain(async () => {
    const after = await cluster.status(1);
    check(after !== null, "node 1 answers /status");
    expect(after.last_log_index).toBe(before.last_log_index);
    expect(after.kv_keys).toBe(before.kv_keys);
    expect(after.kv_hash).toBe(before.kv_hash);
    const keep = await cluster.get(1, "keep");
    expect({ status: keep.status, body: keep.json }).toEqual({
      status: 200,
      body: { key: "keep", value: "original", create_revision: expect.any(Number), mod_revision: expect.any(Number), version: 1, revision: expect.any(Number) },
    });
    for (const key of ["k", "big"]) expect((await cluster.get(1, key)).status).toBe(404);
  });
}, timeout);

test("limits are inclusive: a 4 KiB key and a 1 MiB value are accepted", async () => {
  await cluster.explain(async () => {
    const key = "k".repeat(4 * kib);
    const value = "v".repeat(mib);
    const reply = await cluster.put(1, key, value);
    check(reply.status === 200, `put at the limits: ${describeReply(reply)}`);
    const read = await cluster.get(1, key);
    expect(read.status).toBe(200);
    expect(read.json?.value).toBe(value);
    expect((await cluster.del(1, key)).status).toBe(200);
  });
}, timeout);
