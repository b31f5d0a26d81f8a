// GET /ui (the dashboard page, embedded), GET / for a browser and for everyone else, and the cross-origin
// answers a member's page gets from the other members (README, "Dashboard").
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestNode, type TestNode } from "./fake_api.ts";

let node: TestNode;
beforeAll(() => {
  node = startTestNode(1);
});
afterAll(() => node.server.stop());

describe("GET /ui", () => {
  test("serves one self-contained page under 200 KB: its CSS and script inlined, nothing fetched from elsewhere", async () => {
    const response = await fetch(`${node.base}/ui`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const page = await response.text();
    expect(page.length).toBeGreaterThan(5000);
    expect(new TextEncoder().encode(page).length).toBeLessThan(200 * 1024);
    expect(page).toContain('<div id="members"');
    expect(page).toContain("new EventSource(");
    expect(page).toContain(".card.down");
    expect(page).not.toContain("{{css}}");
    expect(page).not.toContain("{{script}}");
    // No CDN, no external file: no src= or href= pointing anywhere.
    expect(page).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
  });

  test("a POST is refused with the JSON 405", async () => {
    const response = await fetch(`${node.base}/ui`, { method: "POST" });
    expect(response.status).toBe(405);
    expect(((await response.json()) as { error: string }).error).toBe("method_not_allowed");
  });
});

describe("GET /", () => {
  test("a browser (Accept: text/html) is sent to /ui", async () => {
    const response = await fetch(`${node.base}/`, {
      redirect: "manual",
      headers: { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" },
    });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/ui");
  });

  test("any other client gets exactly the not_found answer it had before", async () => {
    for (const accept of [undefined, "*/*", "application/json"]) {
      const response = await fetch(`${node.base}/`, { redirect: "manual", headers: accept ? { accept } : {} });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toBe("application/json;charset=utf-8");
      expect(await response.text()).toBe('{"error":"not_found","message":"no route GET /; see the README for the API"}');
    }
  });
});

describe("cross-origin reads for a member's page", () => {
  test("a page served by a member (its Origin is a member's http_addr) may read /status; its answer is unchanged", async () => {
    const plain = await fetch(`${node.base}/status`);
    const response = await fetch(`${node.base}/status`, { headers: { origin: "http://127.0.0.1:2" } });
    expect(response.headers.get("access-control-allow-origin")).toBe("http://127.0.0.1:2");
    expect(response.headers.get("vary")).toBe("origin");
    expect(await response.text()).toBe(await plain.text());
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("any other origin gets no CORS header, on reads and writes", async () => {
    const other = await fetch(`${node.base}/kv?key=a`, { headers: { origin: "http://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const write = await fetch(`${node.base}/kv`, {
      method: "POST",
      headers: { origin: "http://127.0.0.1:2", "content-type": "application/json" },
      body: JSON.stringify({ op: "put", key: "a", value: "1" }),
    });
    expect(write.status).toBe(200);
    expect(write.headers.get("access-control-allow-origin")).toBeNull();
  });
});
