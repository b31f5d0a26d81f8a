// The happy paths of every route on a leader, the health and metrics endpoints, and what an unexpected exception
// in the node turns into.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { QklzlError } from "../../src/shared/errors.ts";
import { postJson, startTestNode, type TestNode } from "./fake_api.ts";

let node: TestNode;
beforeAll(() => {
  node = startTestNode(1);
});
afterAll(() => node.server.stop());

describe("kv", () => {
  test("put, get, delete, then get answers 404 key_not_found", async () => {
    const putResponse = await postJson(`${node.base}/kv`, { op: "put", key: "greeting", value: "hello wörld" });
    expect(putResponse.status).toBe(200);
    const put = (await putResponse.json()) as { ok: boolean; index: number };
    expect(put.ok).toBe(true);
    expect(put.index).toBe(node.api.index);

    const got = await fetch(`${node.base}/kv?key=greeting`);
    expect(got.status).toBe(200);
    // Byte-compatible: the original fields first, in their order, then the revisions.
    expect(await got.text()).toBe(
      `{"key":"greeting","value":"hello wörld","create_revision":${put.index},"mod_revision":${put.index},"version":1,"revision":${put.index}}`,
    );

    const deleted = await postJson(`${node.base}/kv`, { op: "delete", key: "greeting" });
    expect(await deleted.json()).toEqual({ ok: true, index: put.index + 1 });

    const missing = await fetch(`${node.base}/kv?key=greeting`);
    expect(missing.status).toBe(404);
    const body = (await missing.json()) as Record<string, unknown>;
    expect(body.error).toBe("key_not_found");
    expect(String(body.message)).toContain("greeting");
  });

  test("the key travels percent-encoded; consistency defaults to linearizable", async () => {
    const key = "a b/c?d&e=é";
    await postJson(`${node.base}/kv`, { op: "put", key, value: "" });
    expect(node.api.data.get(key)).toBe("");
    const response = await fetch(`${node.base}/kv?key=${encodeURIComponent(key)}`);
    const index = node.api.index;
    expect(await response.json()).toEqual({ key, value: "", create_revision: index, mod_revision: index, version: 1, revision: index });
    expect(node.api.calls.at(-1)).toEqual({ method: "readKv", args: [key, "linearizable"] });
    await fetch(`${node.base}/kv?key=${encodeURIComponent(key)}&consistency=stale`);
    expect(node.api.calls.at(-1)).toEqual({ method: "readKv", args: [key, "stale"] });
  });

  test("GET /kv?key=K (the plain query) answers byte for byte as the same read spelled with more parameters", async () => {
    await postJson(`${node.base}/kv`, { op: "put", key: "same", value: 'q"\\ é\u2028' });
    for (const key of ["same", "absent"]) {
      const plain = await fetch(`${node.base}/kv?key=${key}`);
      const spelled = await fetch(`${node.base}/kv?consistency=linearizable&key=${key}`);
      expect(plain.status).toBe(spelled.status);
      expect(plain.headers.get("content-type")).toBe("application/json;charset=utf-8");
      expect(spelled.headers.get("content-type")).toBe("application/json;charset=utf-8");
      expect(await plain.text()).toBe(await spelled.text());
    }
    const absent = await fetch(`${node.base}/kv?key=absent`);
    expect(absent.status).toBe(404);
    expect(await absent.text()).toBe('{"error":"key_not_found","message":"key \\"absent\\" not found","key":"absent"}');
  });

  test("GET /kv?key=K refused by the node keeps the error mapping (not_leader: 307 to the leader)", async () => {
    node.api.nextError = new QklzlError("not_leader", "not the leader", { leader_id: 2, leader_http_addr: "127.0.0.1:9" });
    const response = await fetch(`${node.base}/kv?key=x`, { redirect: "manual" });
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://127.0.0.1:9/kv?key=x");
    expect(((await response.json()) as { error: string }).error).toBe("not_leader");
  });

  test("a value of exactly the limit is accepted", async () => {
    const value = "v".repeat(1024 * 1024);
    const response = await postJson(`${node.base}/kv`, { op: "put", key: "big", value });
    expect(response.status).toBe(200);
    expect(node.api.data.get("big")?.length).toBe(value.length);
  });

  test("HEAD /kv answers like GET without a body", async () => {
    await postJson(`${node.base}/kv`, { op: "put", key: "h", value: "x" });
    const response = await fetch(`${node.base}/kv?key=h`, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
  });
});

describe("node errors", () => {
  test("a QklzlError from the node keeps its code, status and details", async () => {
    node.api.nextError = new QklzlError("timeout", "deadline passed after the entry was appended; the outcome is unknown");
    const response = await postJson(`${node.base}/kv`, { op: "put", key: "t", value: "x" });
    expect(response.status).toBe(504);
    expect(await response.json()).toEqual({
      error: "timeout",
      message: "deadline passed after the entry was appended; the outcome is unknown",
    });
    node.api.nextError = new QklzlError("change_in_progress", "a membership change is in progress", { pending_id: 4 });
    const join = await postJson(`${node.base}/join`, { id: 4, raft_addr: "127.0.0.1:9", http_addr: "127.0.0.1:10" });
    expect(join.status).toBe(409);
    expect(await join.json()).toEqual({ error: "change_in_progress", message: "a membership change is in progress", pending_id: 4 });
  });

  test("an unexpected exception becomes a 500 internal JSON error without internals, and the node keeps serving", async () => {
    node.api.nextError = new TypeError("secret detail: cannot read properties of undefined");
    const response = await fetch(`${node.base}/status`);
    expect(response.status).toBe(500);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.error).toBe("internal");
    expect(String(body.message)).not.toContain("secret");
    expect((await fetch(`${node.base}/status`)).status).toBe(200);
  });
});

describe("membership and snapshot on the leader", () => {
  test("join passes the parsed request and answers the members", async () => {
    const response = await postJson(`${node.base}/join`, { id: 4, raft_addr: "127.0.0.1:12004", http_addr: "[::1]:8004" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { ok: boolean; cluster_id: string; members: { id: number; role: string }[] };
    expect(body.ok).toBe(true);
    expect(body.cluster_id).toBe("test-cluster");
    expect(body.members.map((member) => [member.id, member.role])).toEqual([
      [1, "voter"],
      [4, "learner"],
    ]);
    expect(node.api.calls.at(-1)).toEqual({
      method: "join",
      args: [{ id: 4, raftAddr: "127.0.0.1:12004", httpAddr: "[::1]:8004" }],
    });
  });

  test("leave, transfer-leader and snapshot", async () => {
    expect(await (await postJson(`${node.base}/leave`, { id: 3 })).json()).toEqual({ ok: true });
    expect(node.api.calls.at(-1)).toEqual({ method: "leave", args: [3] });
    expect(await (await postJson(`${node.base}/transfer-leader`, { id: 2 })).json()).toEqual({ ok: true });
    expect(node.api.calls.at(-1)).toEqual({ method: "transferLeader", args: [2] });
    const snapshot = await fetch(`${node.base}/snapshot`, { method: "POST" });
    expect(await snapshot.json()).toEqual({ ok: true, index: node.api.index });
    expect(node.api.calls.at(-1)).toEqual({ method: "snapshot", args: [] });
  });
});

describe("status and health", () => {
  test("GET /status is the node's status JSON", async () => {
    const response = await fetch(`${node.base}/status`);
    expect(response.headers.get("content-type")).toContain("application/json");
    const status = (await response.json()) as Record<string, unknown>;
    expect(status.id).toBe(1);
    expect(status.is_leader).toBe(true);
    expect(status.leader_id).toBe(1);
    expect(Array.isArray(status.members)).toBe(true);
  });

  test("livez is always 200; readyz follows isReady", async () => {
    expect((await fetch(`${node.base}/livez`)).status).toBe(200);
    expect(await (await fetch(`${node.base}/readyz`)).json()).toEqual({ ready: true });
    node.api.ready = false;
    try {
      const behind = await fetch(`${node.base}/readyz`);
      expect(behind.status).toBe(503);
      const body = (await behind.json()) as Record<string, unknown>;
      expect(body.ready).toBe(false);
      expect(body.error).toBe("not_ready");
      node.api.role = { kind: "no_leader" };
      const leaderless = await fetch(`${node.base}/readyz`);
      expect(leaderless.status).toBe(503);
      expect(((await leaderless.json()) as Record<string, unknown>).error).toBe("no_leader");
      expect((await fetch(`${node.base}/livez`)).status).toBe(200);
    } finally {
      node.api.ready = true;
      node.api.role = { kind: "leader" };
    }
  });

  test("GET /metrics is Prometheus text with the node's and the HTTP layer's counters", async () => {
    await fetch(`${node.base}/nope`);
    const response = await fetch(`${node.base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await response.text();
    expect(text).toContain("qklzl_term 3\n");
    expect(text).toMatch(/qklzl_http_requests_total\{route="\/kv",code="2xx"\} [1-9]/);
    expect(text).toMatch(/qklzl_http_requests_total\{route="other",code="4xx"\} [1-9]/);
    expect(text).toMatch(/qklzl_http_requests_total\{route="\/status",code="5xx"\} 1\n/);
    expect(text.endsWith("\n")).toBe(true);
  });
});
