import { afterAll, beforeAll, expect, test } from "bun:test";
import { status } from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { QklzlError } from "../../../src/shared/errors.ts";
import type { BackupStream } from "../../../src/node/backup/source.ts";
import { type GrpcServer, startGrpcServer } from "../../../src/node/grpc/server.ts";
import { FakeBackend } from "./fake_backend.ts";
import { connectEtcd, type EtcdTestClient } from "./grpc_client.ts";

// Maintenance.Snapshot as etcd's clients read it (clientv3 maintenance.go): a stream of SnapshotResponse whose
// blobs concatenate to the file, remaining_bytes counting down to 0, the header naming the backup's revision;
// a member that is not ready answers UNAVAILABLE before any blob.

let backend: FakeBackend;
let server: GrpcServer;
let etcd: EtcdTestClient;
let snapshot: () => Promise<BackupStream>;

beforeAll(async () => {
  backend = new FakeBackend();
  Object.assign(backend, { snapshot: () => snapshot() });
  server = await startGrpcServer(backend, { listen: "127.0.0.1:0", maxMessageBytes: 64 * 1024, stopTimeoutMs: 2_000 });
  etcd = connectEtcd(server.addr);
});

afterAll(async () => {
  etcd.close();
  await server.stop();
});

function collect(stream: any): Promise<{ messages: any[]; error: any }> {
  const messages: any[] = [];
  return new Promise((resolve) => {
    stream.on("data", (m: any) => messages.push(m));
    stream.on("error", (error: any) => resolve({ messages, error }));
    stream.on("end", () => resolve({ messages, error: null }));
  });
}

test("the blobs are the backup's bytes in order, remaining_bytes counts down to 0, the header has its revision", async () => {
  const body = [Buffer.alloc(40_000, 1), Buffer.alloc(40_000, 2), Buffer.alloc(1_000, 3)];
  const sha = createHash("sha256");
  for (const b of body) sha.update(b);
  const pieces = [...body, sha.digest()];
  const size = pieces.reduce((n, p) => n + p.length, 0);
  snapshot = async () => ({
    header: { format: "qklzl-backup", version: 1, index: 9, term: 2, revision: 77, keys: 3, kv_hash: "0123456789abcdef", image_bytes: 1, cluster_id: null, node_id: 2, created_at: "t" },
    size,
    async *chunks() {
      for (const p of pieces) yield new Uint8Array(p);
    },
    close: async () => undefined,
  });
  const stream = (etcd.raw("Maintenance") as any).Snapshot({});
  const { messages, error } = await collect(stream);
  expect(error).toBeNull();
  expect(messages.length).toBe(4);
  expect(messages.map((m) => Number(m.remaining_bytes))).toEqual([size - 40_000, size - 80_000, 32, 0]);
  expect(messages[0].header.revision).toBe("77");
  const file = Buffer.concat(messages.map((m) => m.blob));
  expect(file.length).toBe(size);
  // etcdctl's check: the last 32 bytes are the sha256 of the rest.
  expect(createHash("sha256").update(file.subarray(0, size - 32)).digest("hex")).toBe(file.subarray(size - 32).toString("hex"));
});

test("a member that is not ready answers UNAVAILABLE with qklzl's code in the trailers", async () => {
  snapshot = async () => {
    throw new QklzlError("not_ready", "this member is not ready");
  };
  const { messages, error } = await collect((etcd.raw("Maintenance") as any).Snapshot({}));
  expect(messages).toEqual([]);
  expect(error.code).toBe(status.UNAVAILABLE);
  expect(error.metadata.get("qklzl-error")).toEqual(["not_ready"]);
});
