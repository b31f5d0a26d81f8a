import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { descriptorJson } from "../../../scripts/etcd_proto_descriptor.ts";
import { etcd_service_names, etcdService } from "../../../src/node/grpc/protos.ts";

const dir = join(import.meta.dir, "..", "..", "..", "src", "node", "grpc", "proto");

describe("etcd protos", () => {
  test("etcd.json (what the binary bundles) is the descriptor of the checked-in .proto files", () => {
    const bundled = JSON.parse(readFileSync(join(dir, "etcd.json"), "utf8"));
    expect(bundled).toEqual(JSON.parse(JSON.stringify(descriptorJson(dir))));
  });

  test("the six services carry etcd v3.5's methods, with the streams where etcd has them", () => {
    const methods = Object.fromEntries(etcd_service_names.map((name) => [name, Object.keys(etcdService(name)).sort()]));
    expect(methods.KV).toEqual(["Compact", "DeleteRange", "Put", "Range", "Txn"]);
    expect(methods.Watch).toEqual(["Watch"]);
    expect(methods.Lease).toEqual(["LeaseGrant", "LeaseKeepAlive", "LeaseLeases", "LeaseRevoke", "LeaseTimeToLive"]);
    expect(methods.Cluster).toEqual(["MemberAdd", "MemberList", "MemberPromote", "MemberRemove", "MemberUpdate"]);
    expect(methods.Maintenance).toEqual(["Alarm", "Defragment", "Downgrade", "Hash", "HashKV", "MoveLeader", "Snapshot", "Status"]);
    expect(methods.Auth).toContain("AuthStatus");
    const watch = etcdService("Watch").Watch!;
    expect([watch.requestStream, watch.responseStream]).toEqual([true, true]);
    expect(etcdService("Maintenance").Snapshot!.responseStream).toBe(true);
    expect(etcdService("KV").Range!.path).toBe("/etcdserverpb.KV/Range");
  });

  test("field numbers survive stripping: a RangeRequest encodes to etcd's wire bytes", () => {
    // key=1 (bytes "a"), range_end=2 ("b"), limit=3 (5), serializable=7: tags 0x0a, 0x12, 0x18, 0x38.
    const bytes = etcdService("KV").Range!.requestSerialize({ key: Buffer.from("a"), range_end: Buffer.from("b"), limit: 5, serializable: true });
    expect([...bytes]).toEqual([0x0a, 1, 0x61, 0x12, 1, 0x62, 0x18, 5, 0x38, 1]);
    const header = etcdService("KV").Range!.responseDeserialize(Buffer.from([0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    // cluster_id = 2^64-1 arrives as an exact decimal string.
    expect((header as { header: { cluster_id: string } }).header.cluster_id).toBe("18446744073709551615");
  });
});
