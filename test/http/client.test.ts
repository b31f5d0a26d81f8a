// src/cli/client.ts against real HTTP servers over fake nodes: leader following, error bodies, hop limit, timeouts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { baseUrl, request } from "../../src/cli/client.ts";
import { isQklzlError, type QklzlError } from "../../src/shared/errors.ts";
import { startTestNode, type TestNode } from "./fake_api.ts";

let leader: TestNode;
let follower: TestNode;

beforeAll(() => {
  leader = startTestNode(1);
  follower = startTestNode(2);
  follower.api.role = { kind: "follower", leaderId: 1, leaderHttpAddr: leader.server.addr };
});
afterAll(async () => {
  await leader.server.stop();
  await follower.server.stop();
});

async function rejection(promise: Promise<unknown>): Promise<QklzlError> {
  try {
    await promise;
  } catch (error) {
    if (isQklzlError(error)) return error;
    throw new Error(`expected a QklzlError, got ${String(error)}`);
  }
  throw new Error("expected the request to fail");
}

const follow = { timeoutMs: 2000, followLeader: true };
const stay = { timeoutMs: 2000, followLeader: false };

describe("request", () => {
  test("GET /status returns the parsed JSON", async () => {
    const status = (await request(leader.server.addr, "GET", "/status", undefined, stay)) as { id: number };
    expect(status.id).toBe(1);
  });

  test("a put sent to a follower follows the 307 to the leader", async () => {
    const answer = await request(follower.server.addr, "POST", "/kv", { op: "put", key: "k", value: "v" }, follow);
    expect(answer).toEqual({ ok: true, index: leader.api.index });
    expect(leader.api.data.get("k")).toBe("v");
    expect(follower.api.data.size).toBe(0);
  });

  test("without followLeader the 307 is a not_leader error carrying the hint", async () => {
    const error = await rejection(request(follower.server.addr, "POST", "/kv", { op: "delete", key: "k" }, stay));
    expect(error.code).toBe("not_leader");
    expect(error.details).toEqual({ leader_id: 1, leader_http_addr: leader.server.addr });
    expect(error.message).toBe(`node 2 is not the leader; the leader is node 1 at ${leader.server.addr}`);
    expect(leader.api.data.get("k")).toBe("v");
  });

  test("error bodies become QklzlErrors with their code, message and details", async () => {
    const missing = await rejection(request(leader.server.addr, "GET", "/kv?key=nope", undefined, follow));
    expect(missing.code).toBe("key_not_found");
    expect(missing.details).toEqual({ key: "nope" });
    const bad = await rejection(request(leader.server.addr, "POST", "/kv", { op: "put", key: "" }, follow));
    expect(bad.code).toBe("bad_request");
    const notFound = await rejection(request(leader.server.addr, "GET", "/nope", undefined, follow));
    expect(notFound.code).toBe("not_found");
  });

  test("non-JSON answers: /metrics returns text, an empty error answer maps by status", async () => {
    const metrics = await request(leader.server.addr, "GET", "/metrics", undefined, stay);
    expect(typeof metrics).toBe("string");
    expect(String(metrics)).toContain("qklzl_http_requests_total");
    const plain = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("", { status: 413 }) });
    try {
      const error = await rejection(request(`127.0.0.1:${plain.port}`, "POST", "/kv", {}, follow));
      expect(error.code).toBe("too_large");
    } finally {
      await plain.stop(true);
    }
  });

  test("two nodes that point at each other: the hop limit stops the loop", async () => {
    const a = startTestNode(5);
    const b = startTestNode(6);
    try {
      a.api.role = { kind: "follower", leaderId: 6, leaderHttpAddr: b.server.addr };
      b.api.role = { kind: "follower", leaderId: 5, leaderHttpAddr: a.server.addr };
      const error = await rejection(request(a.server.addr, "POST", "/kv", { op: "put", key: "x", value: "y" }, { ...follow, maxHops: 3 }));
      expect(error.code).toBe("not_leader");
      // one try plus three hops: a, b, a, b
      expect(a.api.calls.filter((call) => call.method === "write").length).toBe(2);
      expect(b.api.calls.filter((call) => call.method === "write").length).toBe(2);
    } finally {
      await a.server.stop();
      await b.server.stop();
    }
  });

  test("an unreachable node: an error naming the address", async () => {
    const gone = startTestNode(7);
    const addr = gone.server.addr;
    await gone.server.stop();
    const error = await rejection(request(addr, "GET", "/status", undefined, stay));
    expect(error.code).toBe("internal");
    expect(error.message).toContain(addr);
    expect(error.details.unreachable).toBe(true);
  });

  test("a slow node: timeout within the deadline, and a write's outcome is called unknown", async () => {
    leader.api.delayMs = 700;
    try {
      const started = performance.now();
      const error = await rejection(
        request(follower.server.addr, "POST", "/kv", { op: "put", key: "slow", value: "v" }, { timeoutMs: 300, followLeader: true }),
      );
      expect(performance.now() - started).toBeLessThan(1000);
      expect(error.code).toBe("timeout");
      expect(error.message).toContain("unknown");
    } finally {
      leader.api.delayMs = 0;
    }
    await Bun.sleep(500); // let the slow leader call finish
  });

  test("baseUrl accepts host:port and URLs", () => {
    expect(baseUrl("127.0.0.1:8001")).toBe("http://127.0.0.1:8001");
    expect(baseUrl("http://127.0.0.1:8001/")).toBe("http://127.0.0.1:8001");
    expect(baseUrl(" [::1]:8001 ")).toBe("http://[::1]:8001");
    expect(() => baseUrl("")).toThrow("empty");
  });
});
