import { check, type Cluster, describeReply, errorCode, type HttpReply, request } from "./harness.ts";

// expect.ts: the documented expectations, phrased once. Reads are the default (linearizable) GET /kv.

export type KvBody = { op: "put"; key: string; value: string } | { op: "delete"; key: string };

/** expectWrite sends a write to node `id` and requires 200 {"ok":true,"index":N}; returns N. */
export async function expectWrite(cluster: Cluster, id: number, body: KvBody): Promise<number> {
  const reply = await request(cluster.node(id).httpAddr, "/kv", { json: body });
  const index = reply.json?.index;
  check(
    reply.status === 200 && reply.json?.ok === true && typeof index === "number" && index > 0,
    `POST /kv ${JSON.stringify(body).slice(0, 120)} to node ${id}: expected 200 {"ok":true,"index":N}, got ${describeReply(reply)}`,
  );
  return index;
}

export interface ReadOptions {
  /**
   * retryUnavailableMs: keep asking while the node answers 503/504 or not at all (an election in progress, as
   * after a restart), for up to this long. A wrong value or a 404 fails at once. Default 0: one attempt.
   */
  retryUnavailableMs?: number;
}

async function readRetrying(cluster: Cluster, id: number, key: string, options: ReadOptions): Promise<HttpReply> {
  const deadline = performance.now() + (options.retryUnavailableMs ?? 0);
  for (;;) {
    const reply = await cluster.get(id, key);
    const unavailable = reply.status === 0 || reply.status === 503 || reply.status === 504;
    if (!unavailable || performance.now() >= deadline) return reply;
    await Bun.sleep(50);
  }
}

/** expectRead requires GET /kv?key=K on node `id` to answer 200 {"key":K,"value":V}. */
export async function expectRead(cluster: Cluster, id: number, key: string, value: string, options: ReadOptions = {}): Promise<void> {
  const reply = await readRetrying(cluster, id, key, options);
  check(
    reply.status === 200 && reply.json?.key === key && reply.json?.value === value,
    `GET /kv?key=${key} on node ${id}: expected 200 ${JSON.stringify({ key, value })}, got ${describeReply(reply)}`,
  );
}

/** expectMissing requires GET /kv?key=K on node `id` to answer 404 key_not_found. */
export async function expectMissing(cluster: Cluster, id: number, key: string, options: ReadOptions = {}): Promise<void> {
  const reply = await readRetrying(cluster, id, key, options);
  check(
    reply.status === 404 && errorCode(reply) === "key_not_found",
    `GET /kv?key=${key} on node ${id}: expected 404 {"error":"key_not_found"}, got ${describeReply(reply)}`,
  );
}

/** stopAll stops every running node with SIGTERM at once, like the documented `pkill -f qklzl`. */
export async function stopAll(cluster: Cluster): Promise<void> {
  await Promise.all(cluster.running().map((id) => cluster.stop(id)));
}

/** seconds renders a duration for notes. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
