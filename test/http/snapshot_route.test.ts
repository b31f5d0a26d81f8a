// GET /snapshot: refused with the JSON error while the node is not ready; otherwise the backup's bytes, streamed
// as the node hands them out, with its header and size in response headers.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { BackupStream } from "../../src/node/backup/source.ts";
import { startTestNode, type TestNode } from "./fake_api.ts";

let node: TestNode;
beforeAll(() => {
  node = startTestNode(1);
});
afterAll(() => node.server.stop());

test("GET /snapshot on a node that is not ready answers 503 not_ready and opens no backup", async () => {
  let opened = 0;
  node.api.backup = async () => {
    opened++;
    throw new Error("must not be called");
  };
  node.api.ready = false;
  const response = await fetch(`${node.base}/snapshot`);
  node.api.ready = true;
  expect(response.status).toBe(503);
  const body = (await response.json()) as { error: string; message: string };
  expect(body.error).toBe("not_ready");
  expect(body.message).toContain("could miss acknowledged writes");
  expect(opened).toBe(0);
});

test("GET /snapshot streams every piece of the backup in order, with its header and size", async () => {
  const pieces = [new Uint8Array([1, 2, 3]), new Uint8Array(70_000).fill(7), new Uint8Array([9])];
  const size = pieces.reduce((n, p) => n + p.length, 0);
  const header = { format: "qklzl-backup", version: 1, index: 5, term: 2, revision: 4, keys: 3, kv_hash: "0123456789abcdef", image_bytes: 10, cluster_id: "c", node_id: 1, created_at: "now" } as const;
  let closed = false;
  const backup: BackupStream = {
    header,
    size,
    async *chunks() {
      try {
        for (const p of pieces) yield p;
      } finally {
        closed = true;
      }
    },
    close: async () => undefined,
  };
  node.api.backup = async () => backup;
  const response = await fetch(`${node.base}/snapshot`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/octet-stream");
  expect(response.headers.get("x-qklzl-backup-size")).toBe(String(size));
  expect(JSON.parse(response.headers.get("x-qklzl-backup")!)).toEqual(header);
  const bytes = new Uint8Array(await response.arrayBuffer());
  expect(bytes.length).toBe(size);
  expect([bytes[0], bytes[3], bytes[size - 1]]).toEqual([1, 7, 9]);
  expect(closed).toBe(true);
});
