// The MVCC routes of issue 12 over the fake api (whose range/kvRequest run the real KvStateMachine): ranges on
// GET /kv, conditional and extended writes on POST /kv, POST /txn, POST /compact, their errors, and that a
// follower redirects them as it does the original writes.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { postJson, startTestNode, type TestNode } from "./fake_api.ts";

let node: TestNode;
let follower: TestNode;
beforeAll(() => {
  node = startTestNode(1);
  follower = startTestNode(2);
  follower.api.role = { kind: "follower", leaderId: 1, leaderHttpAddr: node.server.addr };
});
afterAll(async () => {
  await node.server.stop();
  await follower.server.stop();
});

/** put: always an extended write (prev_kv false), which the fake serves from its real store. */
async function put(key: string, value: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return postJson(`${node.base}/kv`, { op: "put", key, value, prev_kv: false, ...extra });
}

async function json(response: Response): Promise<Record<string, any>> {
  return (await response.json()) as Record<string, any>;
}

describe("GET /kv ranges", () => {
  beforeAll(async () => {
    for (const [k, v] of [["app/a", "1"], ["app/b", "22"], ["app/c", "3"], ["other", "x"]] as const) {
      expect((await put(k, v, { request_id: `seed-${k}` })).status).toBe(200);
    }
  });

  test("prefix lists the keys in order with their revisions; count, more and the store revision", async () => {
    const body = await json(await fetch(`${node.base}/kv?prefix=app/`));
    expect(body.kvs.map((kv: { key: string }) => kv.key)).toEqual(["app/a", "app/b", "app/c"]);
    expect(body.kvs[1]).toEqual({ key: "app/b", value: "22", create_revision: 3, mod_revision: 3, version: 1, lease: 0 });
    expect(body.count).toBe(3);
    expect(body.more).toBe(false);
    expect(body.revision).toBe(node.api.store.revision);
  });

  test("limit gives more; key with range_end; keys_only; count_only; sort and order", async () => {
    const limited = await json(await fetch(`${node.base}/kv?prefix=app/&limit=2`));
    expect(limited.kvs.length).toBe(2);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(3);
    const ranged = await json(await fetch(`${node.base}/kv?key=app/b&range_end=app/z`));
    expect(ranged.kvs.map((kv: { key: string }) => kv.key)).toEqual(["app/b", "app/c"]);
    const keysOnly = await json(await fetch(`${node.base}/kv?prefix=app/&keys_only=true`));
    expect(keysOnly.kvs[0].value).toBe("");
    const countOnly = await json(await fetch(`${node.base}/kv?prefix=&count_only=true`));
    expect(countOnly).toEqual({ kvs: [], count: 4, more: false, revision: node.api.store.revision });
    const recent = await json(await fetch(`${node.base}/kv?prefix=app/&min_mod_revision=3&max_mod_revision=3`));
    expect(recent.kvs.map((kv: { key: string }) => kv.key)).toEqual(["app/b"]);
    const sorted = await json(await fetch(`${node.base}/kv?prefix=app/&sort=value&order=desc`));
    expect(sorted.kvs.map((kv: { value: string }) => kv.value)).toEqual(["3", "22", "1"]);
  });

  test("revision reads history; compacted and future revisions are refused with their codes", async () => {
    const before = node.api.store.revision;
    await put("app/a", "changed");
    const old = await json(await fetch(`${node.base}/kv?key=app/a&revision=${before}`));
    expect(old.kvs[0].value).toBe("1");
    const future = await fetch(`${node.base}/kv?key=app/a&revision=${before + 100}`);
    expect(future.status).toBe(400);
    expect((await json(future)).error).toBe("future_revision");
    const compact = await postJson(`${node.base}/compact`, { revision: before + 1 });
    expect(compact.status).toBe(200);
    expect((await json(compact)).compact_revision).toBe(before + 1);
    const gone = await fetch(`${node.base}/kv?key=app/a&revision=${before}`);
    expect(gone.status).toBe(410);
    const body = await json(gone);
    expect(body.error).toBe("compacted");
    expect(body.compact_revision).toBe(before + 1);
  });

  test("encoding=base64 encodes keys and values both ways", async () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const written = await postJson(`${node.base}/kv`, { op: "put", key: b64("bin/é"), value: b64("v\u0001"), encoding: "base64" });
    expect(written.status).toBe(200);
    const body = await json(await fetch(`${node.base}/kv?prefix=${encodeURIComponent(b64("bin/"))}&encoding=base64`));
    expect(body.kvs[0].key).toBe(b64("bin/é"));
    expect(body.kvs[0].value).toBe(b64("v\u0001"));
    const bad = await postJson(`${node.base}/kv`, { op: "put", key: "!!", value: "", encoding: "base64" });
    expect((await json(bad)).error).toBe("bad_request");
  });

  test("bad range parameters are 400s that name them", async () => {
    for (const query of ["prefix=a&key=b", "key=a&limit=-1", "key=a&sort=size", "key=a&order=up", "prefix=a&bogus=1", "limit=3"]) {
      const response = await fetch(`${node.base}/kv?${query}`);
      expect(response.status).toBe(400);
      expect((await json(response)).error).toBe("bad_request");
    }
  });

  test("a range answer is capped in bytes: more is true and count names them all", async () => {
    const big = "v".repeat(1_000_000);
    for (let i = 0; i < 5; i++) expect((await put(`big/${i}`, big)).status).toBe(200);
    const body = await json(await fetch(`${node.base}/kv?prefix=big/`));
    // 4 MiB of keys and values at most: four of the five 1 MB values.
    expect(body.kvs.length).toBe(4);
    expect(body.more).toBe(true);
    expect(body.count).toBe(5);
    const rest = await json(await fetch(`${node.base}/kv?key=big/4&range_end=big0`));
    expect(rest.kvs.map((kv: { key: string }) => kv.key)).toEqual(["big/4"]);
  });

  test("GET /kv?key=K alone keeps the single-key answer", async () => {
    node.api.data.set("legacy", "v");
    node.api.meta.set("legacy", { create: 1, mod: 1, version: 1 });
    const response = await fetch(`${node.base}/kv?key=legacy`);
    expect(await response.text()).toBe(`{"key":"legacy","value":"v","create_revision":1,"mod_revision":1,"version":1,"revision":${node.api.index}}`);
  });
});

describe("POST /kv conditional and extended writes", () => {
  let modRevision = 0;
  beforeEach(async () => {
    const written = await json(await put("cas", "v1"));
    modRevision = written.revision;
  });

  test("an extended put answers its revision and prev_kv", async () => {
    const body = await json(await put("cas", "v2", { prev_kv: true }));
    expect(body.ok).toBe(true);
    expect(body.revision).toBe(modRevision + 1);
    expect(body.prev_kv.value).toBe("v1");
    expect(body.prev_kv.mod_revision).toBe(modRevision);
  });

  test("if mod_revision: the right one writes, a stale one is 412 compare_failed with the current kv", async () => {
    const ok = await put("cas", "v2", { if: { mod_revision: modRevision } });
    expect(ok.status).toBe(200);
    const stale = await put("cas", "v3", { if: { mod_revision: modRevision } });
    expect(stale.status).toBe(412);
    const body = await json(stale);
    expect(body.error).toBe("compare_failed");
    expect(body.kv.value).toBe("v2");
    expect(body.kv.mod_revision).toBe(modRevision + 1);
    expect(node.api.store.get("cas")).toBe("v2");
  });

  test("if version 0 creates only; if value compares the value; a failed compare on a missing key names kv null", async () => {
    expect((await put("cas", "again", { if: { version: 0 } })).status).toBe(412);
    const fresh = await put(`new-${modRevision}`, "x", { if: { version: 0 } });
    expect(fresh.status).toBe(200);
    expect((await put("cas", "v9", { if: { value: "v1" } })).status).toBe(200);
    const missing = await json(await put(`absent-${modRevision}`, "x", { if: { value: "y" } }));
    expect(missing.error).toBe("compare_failed");
    expect(missing.kv).toBeNull();
  });

  test("delete with prev_kv and if; deleted counts", async () => {
    const refused = await postJson(`${node.base}/kv`, { op: "delete", key: "cas", if: { mod_revision: modRevision - 1 } });
    expect(refused.status).toBe(412);
    const body = await json(await postJson(`${node.base}/kv`, { op: "delete", key: "cas", prev_kv: true, if: { mod_revision: modRevision } }));
    expect(body.deleted).toBe(1);
    expect(body.prev_kvs[0].value).toBe("v1");
  });

  test("request_id: a retry answers the first result and writes nothing twice", async () => {
    const id = `retry-${modRevision}`;
    const first = await json(await put("cas", "once", { request_id: id, if: { mod_revision: modRevision } }));
    const revision = node.api.store.revision;
    const again = await put("cas", "once", { request_id: id, if: { mod_revision: modRevision } });
    expect(again.status).toBe(200);
    // The same answer (the index is the retry's own log entry, which changed nothing).
    expect({ ...(await json(again)), index: 0 }).toEqual({ ...first, index: 0 });
    expect(node.api.store.revision).toBe(revision);
  });

  test("bad if and unknown fields are 400s, and nothing is proposed", async () => {
    const before = node.api.mutations().length;
    for (const extra of [{ if: { size: 3 } }, { if: { mod_revision: "7" } }, { if: {} }, { if: [] }, { prev_kv: "yes" }, { request_id: 5 }]) {
      const response = await put("cas", "x", extra);
      expect(response.status).toBe(400);
    }
    expect(node.api.mutations().length).toBe(before);
  });

  test("a follower answers 307 naming the leader, and forwards with ?forward=true", async () => {
    const redirected = await postJson(`${follower.base}/kv`, { op: "put", key: "cas", value: "f", if: { version: 1 } });
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get("location")).toBe(`http://${node.server.addr}/kv`);
    const forwarded = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "cas", value: "f", prev_kv: true });
    expect(forwarded.status).toBe(200);
    expect((await json(forwarded)).prev_kv.value).toBe("v1");
  });
});

describe("POST /txn", () => {
  test("a compare-and-swap txn: success branch, then the failure branch reads", async () => {
    expect((await put("t/x", "0")).status).toBe(200);
    const txn = {
      compare: [{ key: "t/x", target: "value", result: "=", value: "0" }],
      success: [{ put: { key: "t/x", value: "1" } }, { put: { key: "t/y", value: "1" } }],
      failure: [{ range: { key: "t/x" } }],
    };
    const first = await json(await postJson(`${node.base}/txn`, txn));
    expect(first.succeeded).toBe(true);
    expect(first.responses.length).toBe(2);
    expect(first.responses[0].put.revision).toBe(first.revision);
    const second = await json(await postJson(`${node.base}/txn`, txn));
    expect(second.succeeded).toBe(false);
    expect(second.responses[0].range.kvs[0].value).toBe("1");
  });

  test("a compare on a key's lease: {\"lease\": ID} in \"if\" and target lease in a txn, both branches", async () => {
    await node.api.kvRequest({ kind: "lease_grant", lease_grant: { id: 808, ttl: 60 } });
    expect((await put("leased/k", "v", { lease: 808 })).status).toBe(200);
    expect((await put("leased/k", "v2", { if: { lease: 808 } })).status).toBe(200); // put keeps no lease: now 0
    const refused = await put("leased/k", "v3", { if: { lease: 808 } });
    expect(refused.status).toBe(412);
    expect((await json(refused)).kv.lease).toBe(0);
    expect((await put("leased/k", "v4", { lease: 808, if: { lease: 0 } })).status).toBe(200);
    const txn = (lease: number | string, target = "lease") => ({
      compare: [{ key: "leased/k", target, result: "=", ...(target === "LEASE" ? { lease } : { value: lease }) }],
      success: [{ range: { key: "leased/k" } }],
      failure: [],
    });
    expect((await json(await postJson(`${node.base}/txn`, txn(808)))).succeeded).toBe(true);
    expect((await json(await postJson(`${node.base}/txn`, txn(809)))).succeeded).toBe(false);
    expect((await json(await postJson(`${node.base}/txn`, txn("808", "LEASE")))).succeeded).toBe(true); // etcd's gateway spelling
  });

  test("etcd JSON gateway spellings are accepted", async () => {
    const body = await json(
      await postJson(`${node.base}/txn`, {
        compare: [{ key: "t/x", target: "MOD", result: "GREATER", mod_revision: "0" }],
        success: [{ request_range: { key: "t/", range_end: "t0" } }],
      }),
    );
    expect(body.succeeded).toBe(true);
    expect(body.responses[0].range.count).toBe(2);
  });

  test("too many ops, a duplicate key and a bad shape have their codes", async () => {
    const many = Array.from({ length: 129 }, (_, i) => ({ put: { key: `m${i}`, value: "" } }));
    const tooMany = await postJson(`${node.base}/txn`, { compare: [], success: many });
    expect(tooMany.status).toBe(400);
    expect((await json(tooMany)).error).toBe("too_many_ops");
    const dup = await postJson(`${node.base}/txn`, { success: [{ put: { key: "d", value: "1" } }, { put: { key: "d", value: "2" } }] });
    expect((await json(dup)).error).toBe("duplicate_key");
    const bad = await postJson(`${node.base}/txn`, { success: [{ upsert: { key: "d" } }] });
    expect((await json(bad)).error).toBe("bad_request");
  });

  test("--max-txn-ops sets the bound: 129 operations pass at 200, 3 fail at 2", async () => {
    const wide = startTestNode(3, { maxTxnOps: 200 });
    const narrow = startTestNode(4, { maxTxnOps: 2 });
    try {
      const many = Array.from({ length: 129 }, (_, i) => ({ put: { key: `w${i}`, value: "" } }));
      const accepted = await postJson(`${wide.base}/txn`, { compare: [], success: many });
      expect(accepted.status).toBe(200);
      expect((await json(accepted)).responses.length).toBe(129);
      const refused = await postJson(`${narrow.base}/txn`, { success: many.slice(0, 3) });
      expect(refused.status).toBe(400);
      expect(await json(refused)).toMatchObject({ error: "too_many_ops", message: "success has 3 entries; the maximum is 2" });
    } finally {
      await wide.server.stop();
      await narrow.server.stop();
    }
  });

  test("POST /compact refuses a future revision and a bad body", async () => {
    const future = await postJson(`${node.base}/compact`, { revision: node.api.store.revision + 10 });
    expect((await json(future)).error).toBe("future_revision");
    const bad = await postJson(`${node.base}/compact`, { revision: "1" });
    expect(bad.status).toBe(400);
  });
});
