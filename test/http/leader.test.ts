// Writes sent to a follower (issue 4): a 307 to the leader's same URL with the documented body, or with
// ?forward=true the follower relays the leader's answer. Membership calls are forwarded without being asked.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { postJson, startTestNode, type TestNode } from "./fake_api.ts";

let leader: TestNode;
let follower: TestNode;
let leaderAddr: string;

beforeAll(() => {
  leader = startTestNode(1);
  follower = startTestNode(2, { requestTimeoutMs: 300 });
  leaderAddr = leader.server.addr;
});
beforeEach(() => {
  follower.api.role = { kind: "follower", leaderId: 1, leaderHttpAddr: leaderAddr };
  leader.api.role = { kind: "leader" };
  leader.api.delayMs = 0;
});
afterAll(async () => {
  await leader.server.stop();
  await follower.server.stop();
});

describe("redirect", () => {
  test("a write to a follower answers 307 with Location and the documented body", async () => {
    const response = await postJson(`${follower.base}/kv?x=1`, { op: "put", key: "a", value: "1" });
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe(`http://${leaderAddr}/kv?x=1`);
    expect(await response.json()).toEqual({
      error: "not_leader",
      message: `node 2 is not the leader; the leader is node 1 at ${leaderAddr}`,
      leader_id: 1,
      leader_http_addr: leaderAddr,
    });
    expect(leader.api.mutations()).toEqual([]);
    expect(follower.api.data.size).toBe(0);
  });

  test("a client that follows redirects lands on the leader (fetch re-posts the body on 307)", async () => {
    const response = await fetch(`${follower.base}/kv`, {
      method: "POST",
      body: JSON.stringify({ op: "put", key: "followed", value: "yes" }),
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(200);
    expect(leader.api.data.get("followed")).toBe("yes");
  });

  test("no leader known: 503 no_leader", async () => {
    follower.api.role = { kind: "no_leader" };
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "a", value: "1" });
    expect(response.status).toBe(503);
    expect(((await response.json()) as Record<string, unknown>).error).toBe("no_leader");
    follower.api.role = { kind: "follower", leaderId: 1, leaderHttpAddr: "" };
    const unknownAddr = await postJson(`${follower.base}/kv`, { op: "put", key: "a", value: "1" });
    expect(unknownAddr.status).toBe(503);
    expect(unknownAddr.headers.get("location")).toBeNull();
    expect(((await unknownAddr.json()) as Record<string, unknown>).error).toBe("no_leader");
  });
});

describe("forward=true", () => {
  test("the follower forwards the write and relays the leader's answer", async () => {
    const before = leader.api.index;
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "fwd", value: "v1" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, index: before + 1 });
    expect(leader.api.data.get("fwd")).toBe("v1");
    // The leader saw the write without the forward flag (it is not forwarded twice).
    expect(leader.api.calls.at(-1)).toEqual({ method: "write", args: [{ op: "put", key: "fwd", value: "v1" }] });
  });

  test("a large plain put (read without JSON.parse) is forwarded as it came, and a 307 carries the same body", async () => {
    const value = "L".repeat(5000);
    const before = leader.api.index;
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "big", value });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, index: before + 1 });
    expect(leader.api.data.get("big")).toBe(value);
    expect(follower.api.calls.at(-1)!.method).toBe("putUtf8");
    expect(leader.api.calls.at(-1)!.method).toBe("putUtf8");
    const redirected = await postJson(`${follower.base}/kv`, { op: "put", key: "big", value });
    const small = await postJson(`${follower.base}/kv`, { op: "put", key: "big", value: "s" });
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get("location")).toBe(small.headers.get("location"));
    expect(await redirected.json()).toEqual(await small.json());
  });

  test("the leader's errors are relayed as they are", async () => {
    leader.api.role = { kind: "no_leader" };
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "delete", key: "fwd" });
    expect(response.status).toBe(503);
    expect(((await response.json()) as Record<string, unknown>).error).toBe("no_leader");
  });

  test("a forwarded request is never forwarded again: the next hop answers 307 instead", async () => {
    // The "leader" moved on: node 1 now points at node 3. Node 2 forwards once; node 1 must answer 307, not loop.
    leader.api.role = { kind: "follower", leaderId: 3, leaderHttpAddr: "127.0.0.1:1" };
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "loop", value: "x" });
    expect(response.status).toBe(307);
    expect(response.headers.get("location")).toBe("http://127.0.0.1:1/kv");
    expect(((await response.json()) as Record<string, unknown>).leader_id).toBe(3);
  });

  test("bad input is refused by the follower itself, never forwarded", async () => {
    const before = leader.api.calls.length;
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "" , value: "x" });
    expect(response.status).toBe(400);
    expect(leader.api.calls.length).toBe(before);
  });

  test("a leader that does not answer in time: 504 timeout, outcome unknown", async () => {
    leader.api.delayMs = 1000;
    const started = performance.now();
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "slow", value: "x" });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(504);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.error).toBe("timeout");
    expect(String(body.message)).toContain("unknown");
    expect(elapsed).toBeLessThan(900);
    await Bun.sleep(800); // let the slow leader call finish before the next test
  });

  test("an unreachable leader: 503 no_leader naming it", async () => {
    const closed = startTestNode(9);
    const deadAddr = closed.server.addr;
    await closed.server.stop();
    follower.api.role = { kind: "follower", leaderId: 9, leaderHttpAddr: deadAddr };
    const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "a", value: "1" });
    expect(response.status).toBe(503);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.error).toBe("no_leader");
    expect(String(body.message)).toContain(deadAddr);
  });

  test("a leader whose connection breaks after it received the write: 504 timeout, outcome unknown (not a retryable 503)", async () => {
    // A fake leader that reads the whole request (it may have applied it) and then drops the connection unanswered.
    let received = "";
    const breaking = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket, chunk) {
          received += chunk.toString();
          if (received.includes("\r\n\r\n") && received.includes('"broken"')) socket.terminate();
        },
      },
    });
    try {
      const addr = `127.0.0.1:${breaking.port}`;
      follower.api.role = { kind: "follower", leaderId: 7, leaderHttpAddr: addr };
      const response = await postJson(`${follower.base}/kv?forward=true`, { op: "put", key: "broken", value: "x" });
      expect(received).toContain("POST /kv");
      expect(response.status).toBe(504);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.error).toBe("timeout");
      expect(String(body.message)).toContain("outcome of the request is unknown");
      expect(String(body.message)).toContain(addr);
    } finally {
      breaking.stop(true);
    }
  });
});

describe("membership calls reach the leader from any member", () => {
  test("join through a follower is forwarded and answered with the leader's members", async () => {
    const response = await postJson(`${follower.base}/join`, { id: 4, raft_addr: "127.0.0.1:12004", http_addr: "127.0.0.1:8004" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { ok: boolean; members: { id: number }[] };
    expect(body.ok).toBe(true);
    expect(body.members.map((member) => member.id)).toEqual([1, 4]);
    expect(leader.api.calls.at(-1)).toEqual({
      method: "join",
      args: [{ id: 4, raftAddr: "127.0.0.1:12004", httpAddr: "127.0.0.1:8004" }],
    });
    expect(follower.api.calls.at(-1)?.method).toBe("join");
  });

  test("leave and transfer-leader through a follower are forwarded", async () => {
    expect((await postJson(`${follower.base}/leave`, { id: 3 })).status).toBe(200);
    expect(leader.api.calls.at(-1)).toEqual({ method: "leave", args: [3] });
    expect((await postJson(`${follower.base}/transfer-leader`, { id: 2 })).status).toBe(200);
    expect(leader.api.calls.at(-1)).toEqual({ method: "transferLeader", args: [2] });
  });

  test("snapshot is local: a follower takes its own, nothing reaches the leader", async () => {
    const before = leader.api.calls.length;
    const response = await fetch(`${follower.base}/snapshot`, { method: "POST" });
    expect(response.status).toBe(200);
    expect(follower.api.calls.at(-1)?.method).toBe("snapshot");
    expect(leader.api.calls.length).toBe(before);
  });

  test("join with no leader known: 503 no_leader, so the joining node retries", async () => {
    follower.api.role = { kind: "no_leader" };
    const response = await postJson(`${follower.base}/join`, { id: 4, raft_addr: "127.0.0.1:12004", http_addr: "127.0.0.1:8004" });
    expect(response.status).toBe(503);
    expect(((await response.json()) as Record<string, unknown>).error).toBe("no_leader");
  });
});
