// qklzl_http_request_duration_seconds: every answered request is timed per route (the dashboard's p99 chart).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { postJson, startTestNode, type TestNode } from "./fake_api.ts";

let node: TestNode;
beforeAll(() => {
  node = startTestNode(1);
});
afterAll(() => node.server.stop());

function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

test("requests land in their route's histogram, slow ones in the higher buckets", async () => {
  await postJson(`${node.base}/kv`, { op: "put", key: "a", value: "1" });
  await fetch(`${node.base}/kv?key=a`);
  node.api.delayMs = 30; // leader-only calls (the write) now take 30 ms
  await postJson(`${node.base}/kv`, { op: "put", key: "a", value: "2" });
  node.api.delayMs = 0;
  const text = await (await fetch(`${node.base}/metrics`)).text();
  expect(text).toContain("# TYPE qklzl_http_request_duration_seconds histogram");
  expect(sample(text, 'qklzl_http_request_duration_seconds_count{route="/kv"}')).toBe(3);
  expect(sample(text, 'qklzl_http_request_duration_seconds_bucket{route="/kv",le="+Inf"}')).toBe(3);
  // The 30 ms write is above 25 ms; the two fast ones are below it.
  expect(sample(text, 'qklzl_http_request_duration_seconds_bucket{route="/kv",le="0.025"}')).toBe(2);
  expect(sample(text, 'qklzl_http_request_duration_seconds_bucket{route="/kv",le="0.05"}')).toBe(3);
  expect(sample(text, 'qklzl_http_request_duration_seconds_sum{route="/kv"}')).toBeGreaterThanOrEqual(0.03);
  // Routes never asked have no series.
  expect(text).not.toContain('qklzl_http_request_duration_seconds_count{route="/snapshot"}');
});
