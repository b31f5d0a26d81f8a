import { describe, expect, test } from "bun:test";
import { status } from "@grpc/grpc-js";
import { QklzlError } from "../../../src/shared/errors.ts";
import { NotSupportedError } from "../../../src/node/grpc/backend.ts";
import { EtcdError, etcd_errors, toServiceError } from "../../../src/node/grpc/errors.ts";
import { etcdClusterId, etcdMemberId, nodeIdOf, parseUint64, responseHeader } from "../../../src/node/grpc/ids.ts";

const cluster = "6f1c2a4e-9b0d-4c53-a7e1-0d9f3b2c8e11";

describe("etcd ids", () => {
  test("cluster and member ids are fixed functions of the qklzl ids (same on every member, every restart)", () => {
    // Pinned values: a change here changes every id clients have seen, which breaks their member bookkeeping.
    expect(etcdClusterId(cluster)).toBe(BigInt(`0x${new Bun.CryptoHasher("sha256").update(`qklzl-cluster:${cluster}`).digest("hex").slice(0, 16)}`));
    expect(etcdMemberId(cluster, 2)).toBe(BigInt(`0x${new Bun.CryptoHasher("sha256").update(`qklzl-member:${cluster}:2`).digest("hex").slice(0, 16)}`));
  });

  test("member ids differ per node and per cluster; unknown cluster id gives 0 (etcd's 'no id')", () => {
    const ids = new Set([1, 2, 3, 4, 5].map((n) => etcdMemberId(cluster, n)));
    expect(ids.size).toBe(5);
    expect(etcdMemberId(cluster, 1)).not.toBe(etcdMemberId("another-cluster", 1));
    expect(etcdClusterId("")).toBe(0n);
    expect(etcdMemberId("", 1)).toBe(0n);
  });

  test("headers carry ids as exact decimal strings, also above 2^53", () => {
    const header = responseHeader({ cluster_id: cluster, node_id: 3, revision: 0, raft_term: 7 });
    expect(header.cluster_id).toBe(etcdClusterId(cluster).toString());
    expect(header.member_id).toBe(etcdMemberId(cluster, 3).toString());
    expect(BigInt(header.member_id)).toBe(etcdMemberId(cluster, 3));
    expect(header).toMatchObject({ revision: 0, raft_term: 7 });
    // Most derived ids are above 2^53: a Number would round them.
    const big = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => etcdMemberId(cluster, n)).filter((id) => id > BigInt(Number.MAX_SAFE_INTEGER));
    expect(big.length).toBeGreaterThan(0);
    for (const id of big) expect(BigInt(Number(id))).not.toBe(id);
  });

  test("parseUint64 and nodeIdOf map a request's member id back to the node", () => {
    const id = etcdMemberId(cluster, 3);
    expect(parseUint64(id.toString())).toBe(id);
    expect(parseUint64("18446744073709551615")).toBe((1n << 64n) - 1n);
    expect(parseUint64("18446744073709551616")).toBeNull();
    expect(parseUint64("-1")).toBeNull();
    expect(parseUint64("0x10")).toBeNull();
    expect(parseUint64(12)).toBe(12n);
    expect(nodeIdOf(cluster, id, [1, 2, 3])).toBe(3);
    expect(nodeIdOf(cluster, id, [1, 2])).toBeNull();
  });
});

describe("etcd error mapping", () => {
  const cases: Array<[string, status, string]> = [
    ["compacted", status.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"],
    ["future_revision", status.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"],
    ["not_leader", status.FAILED_PRECONDITION, "etcdserver: not leader"],
    ["no_leader", status.UNAVAILABLE, "etcdserver: no leader"],
    ["timeout", status.UNAVAILABLE, "etcdserver: request timed out"],
    ["too_many_ops", status.INVALID_ARGUMENT, "etcdserver: too many operations in txn request"],
    ["duplicate_key", status.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"],
    ["too_large", status.INVALID_ARGUMENT, "etcdserver: request is too large"],
    ["lease_not_found", status.NOT_FOUND, "etcdserver: requested lease not found"],
    ["unknown_member", status.NOT_FOUND, "etcdserver: member not found"],
    ["shutting_down", status.UNAVAILABLE, "etcdserver: server stopped"],
  ];
  for (const [code, grpcCode, message] of cases) {
    test(`${code} -> ${status[grpcCode]} "${message}", qklzl's reason in the trailers`, () => {
      const mapped = toServiceError(new QklzlError(code as never, `qklzl says ${code}`));
      expect(mapped.code).toBe(grpcCode);
      expect(mapped.details).toBe(message);
      expect(mapped.metadata.get("qklzl-error")).toEqual([code]);
      expect(mapped.metadata.get("qklzl-message")).toEqual([`qklzl says ${code}`]);
    });
  }

  test("every qklzl error code the node raises has an entry (no silent UNKNOWN)", () => {
    const raised = ["bad_request", "too_large", "not_leader", "no_leader", "no_quorum", "timeout", "change_in_progress", "transfer_in_progress", "unknown_member", "shutting_down", "storage_corrupt"];
    for (const code of raised) expect(etcd_errors[code]).toBeDefined();
  });

  test("an error without an etcd text passes qklzl's message; not-supported is UNIMPLEMENTED; a bug is INTERNAL", () => {
    const bad = toServiceError(new QklzlError("bad_request", "key too long"));
    expect([bad.code, bad.details]).toEqual([status.INVALID_ARGUMENT, "key too long"]);
    const missing = toServiceError(new NotSupportedError("a txn needs the MVCC store"));
    expect([missing.code, missing.details]).toEqual([status.UNIMPLEMENTED, "a txn needs the MVCC store"]);
    const bug = toServiceError(new TypeError("x is undefined"));
    expect(bug.code).toBe(status.INTERNAL);
    expect(bug.details).not.toContain("undefined");
    const own = toServiceError(new EtcdError("empty_key", "no key"));
    expect([own.code, own.details]).toEqual([status.INVALID_ARGUMENT, "etcdserver: key is not provided"]);
  });

  test("a non-ASCII qklzl message still fits in a trailer", () => {
    const mapped = toServiceError(new QklzlError("bad_request", "key «ключ» refused"));
    expect(mapped.metadata.get("qklzl-message")).toEqual(["key ?????? refused"]);
  });
});
