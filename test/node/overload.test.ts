import { describe, expect, test } from "bun:test";
import { status as grpcStatus } from "@grpc/grpc-js";
import { toServiceError } from "../../src/node/grpc/errors.ts";
import { qklzlErrorResponse } from "../../src/node/http/errors.ts";
import { NodeMetrics } from "../../src/node/metrics.ts";
import { Refusals } from "../../src/node/refusals.ts";
import { Requests, type RequestsContext } from "../../src/node/requests.ts";
import { QklzlError } from "../../src/shared/errors.ts";
import { limits } from "../../src/shared/limits.ts";

// Issue 15, Guardrails: overload answers its own code, 429 overloaded with Retry-After (gRPC RESOURCE_EXHAUSTED
// "etcdserver: too many requests"); 503 no_quorum stays for a leader that cannot reach a majority.

const soft = { role: "leader", leaderId: 1, membership: { voters: [1, 2, 3], member: () => undefined } } as never;

function requestsWith(pending: number, quorum: boolean): Requests {
  const refusals = new Refusals(1, () => soft);
  const context = {
    core: () => ({ softState: () => soft, propose: () => ({ ok: false, error: "too_many_uncommitted" }) }),
    kv: {},
    proposals: { size: pending },
    reads: {},
    peers: { quorumReachable: () => quorum },
    refusals,
    metrics: new NodeMetrics(),
    ensureRunning: () => {},
    wake: () => {},
  } as unknown as RequestsContext;
  return new Requests(context);
}

async function refusalOf(promise: Promise<unknown>): Promise<QklzlError> {
  try {
    await promise;
  } catch (error) {
    return error as QklzlError;
  }
  throw new Error("expected a refusal");
}

describe("overload", () => {
  test("too many pending requests, and the core's too many uncommitted entries, are overloaded (429), not no_quorum", async () => {
    const pending = await refusalOf(requestsWith(limits.pending_requests_max, true).propose(new Uint8Array(1)));
    expect([pending.code, pending.httpStatus]).toEqual(["overloaded", 429]);
    const uncommitted = await refusalOf(requestsWith(0, true).propose(new Uint8Array(1)));
    expect([uncommitted.code, uncommitted.httpStatus]).toEqual(["overloaded", 429]);
    const noQuorum = await refusalOf(requestsWith(0, false).propose(new Uint8Array(1)));
    expect([noQuorum.code, noQuorum.httpStatus]).toEqual(["no_quorum", 503]);
  });

  test("HTTP: 429 with Retry-After and the one error shape; gRPC: RESOURCE_EXHAUSTED with etcd's texts", async () => {
    const error = new Refusals(1, () => soft).overloadedError("too many requests pending (100000)");
    const response = qklzlErrorResponse(error, "/kv");
    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(await response.json()).toMatchObject({ error: "overloaded", retry_after_s: 1 });
    expect(toServiceError(error)).toMatchObject({ code: grpcStatus.RESOURCE_EXHAUSTED, details: "etcdserver: too many requests" });
    expect(toServiceError(new QklzlError("no_space", "full"))).toMatchObject({ code: grpcStatus.RESOURCE_EXHAUSTED, details: "etcdserver: mvcc: database space exceeded" });
    expect(toServiceError(new QklzlError("corrupt", "diverged"))).toMatchObject({ code: grpcStatus.DATA_LOSS, details: "etcdserver: corrupt cluster" });
    expect(toServiceError(new QklzlError("no_quorum", "minority"))).toMatchObject({ code: grpcStatus.UNAVAILABLE });
  });
});
