import { expect, test } from "bun:test";
import { check, Cluster, fastFlags } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// PUT /kv/KEY and GET /kv/KEY (issue 16, large values) against a real 3-node cluster: the raw entry (tag 18)
// replicates and every member ends with the same state hash; a follower answers 307 to the leader; bad input
// (not UTF-8, too large, wrong Content-Type, bad URL encoding) is a 4xx with the usual error JSON and nothing
// reaches the log.

const cluster = new Cluster({ name: "it-rawvalues", extraArgs: fastFlags });
const timeout = 60_000;
const mib = 1024 * 1024;

formedForThisFile(cluster, { timeoutMs: timeout });

function url(id: number, path: string): string {
  return `http://${cluster.node(id).httpAddr}${path}`;
}

async function putRaw(id: number, path: string, body: Uint8Array | string, type = "application/octet-stream"): Promise<Response> {
  return fetch(url(id, path), { method: "PUT", body, headers: { "content-type": type }, redirect: "manual", signal: AbortSignal.timeout(15_000) });
}

async function commitIndex(id: number): Promise<number> {
  const status = await cluster.status(id);
  check(status !== null, `node ${id} answers /status`);
  return status.commit_index;
}

test("raw puts replicate byte for byte, keys are URL-decoded, followers redirect, bad input changes nothing", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const follower = leaderId === 1 ? 2 : 1;
    const key = "dir/sub key é?&=#";
    const value = "grüße ✓ 😀 ".repeat(20_000); // ~300 KB of multi-byte UTF-8
    const path = `/kv/${encodeURIComponent(key)}`;

    const put = await putRaw(leaderId, path, new TextEncoder().encode(value));
    expect(put.status).toBe(200);
    const answer = (await put.json()) as { ok: boolean; index: number; revision: number };
    expect(answer.ok).toBe(true);
    expect(answer.revision).toBeGreaterThan(1);
    expect(answer.index).toBeGreaterThan(0);

    // The JSON route reads the same key and value on every member (linearizable, so after the write).
    for (const id of [1, 2, 3]) {
      const reply = await cluster.get(id, key);
      expect(reply.status).toBe(200);
      expect(reply.json?.value).toBe(value);
      const raw = await fetch(url(id, path));
      expect(raw.status).toBe(200);
      expect(raw.headers.get("content-type")).toBe("application/octet-stream");
      expect(await raw.text()).toBe(value);
    }
    // A slash may also be written as is; a request id and prev_kv go in the query. A retry with the same id
    // answers the first write's revision and changes nothing (its own entry has the next index).
    const first = await putRaw(leaderId, "/kv/dir/plain?request_id=raw-1", "first");
    expect(first.status).toBe(200);
    const retried = await putRaw(leaderId, "/kv/dir/plain?request_id=raw-1", "second");
    expect(((await retried.json()) as { revision: number }).revision).toBe(((await first.json()) as { revision: number }).revision);
    expect((await cluster.get(leaderId, "dir/plain")).json?.value).toBe("first");
    const withPrev = await putRaw(leaderId, "/kv/dir%2Fplain?prev_kv=true", "third");
    expect(((await withPrev.json()) as { prev_kv: { value: string } }).prev_kv.value).toBe("first");

    // A follower answers 307 naming the leader, as POST /kv does; nothing is written there.
    const redirected = await putRaw(follower, "/kv/redirected", "x");
    expect(redirected.status).toBe(307);
    expect(redirected.headers.get("location")).toBe(`http://${cluster.node(leaderId).httpAddr}/kv/redirected`);
    expect(((await redirected.json()) as { error: string }).error).toBe("not_leader");

    const before = await commitIndex(leaderId);
    const refusals: Array<[string, Response, number, string]> = [
      ["invalid UTF-8", await putRaw(leaderId, "/kv/bad-utf8", new Uint8Array([0x61, 0xff, 0xfe, 0x62])), 400, "bad_request"],
      ["a lone surrogate encoded (CESU)", await putRaw(leaderId, "/kv/bad-utf8", new Uint8Array([0xed, 0xa0, 0x80])), 400, "bad_request"],
      ["value over 1 MiB", await putRaw(leaderId, "/kv/too-big", new Uint8Array(mib + 1).fill(0x61)), 413, "too_large"],
      ["body over 2 MiB", await putRaw(leaderId, "/kv/too-big", new Uint8Array(2 * mib + 1).fill(0x61)), 413, "too_large"],
      ["key over 4 KiB", await putRaw(leaderId, `/kv/${"k".repeat(4097)}`, "v"), 413, "too_large"],
      ["no key (/kv/ is not a route)", await putRaw(leaderId, "/kv/", "v"), 404, "not_found"],
      ["bad URL encoding", await putRaw(leaderId, "/kv/%E0%A4%A", "v"), 400, "bad_request"],
      ["JSON content type", await putRaw(leaderId, "/kv/json", '{"v":1}', "application/json"), 400, "bad_request"],
      ["bad prev_kv", await putRaw(leaderId, "/kv/flag?prev_kv=maybe", "v"), 400, "bad_request"],
    ];
    for (const [what, reply, status, code] of refusals) {
      const body = (await reply.json()) as { error: string; message: string };
      expect({ what, status: reply.status, error: body.error, hasMessage: typeof body.message === "string" }).toEqual({ what, status, error: code, hasMessage: true });
    }
    // Other methods on /kv/KEY are not routes (the 404 they had before PUT and GET /kv/KEY existed).
    const method = await fetch(url(leaderId, "/kv/x"), { method: "DELETE" });
    expect(method.status).toBe(404);
    expect(await commitIndex(leaderId)).toBe(before); // nothing was proposed
    for (const name of ["bad-utf8", "too-big", "json", "redirected"]) {
      const missing = await fetch(url(leaderId, `/kv/${name}`));
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: string }).error).toBe("key_not_found");
    }

    // Every member applied the same entries to the same state.
    const index = await cluster.waitConverged([1, 2, 3], 20_000);
    const hashes = new Set<string>();
    for (const id of [1, 2, 3]) {
      const status = await cluster.status(id);
      check(status !== null && status.kv_hash_index === index, `node ${id} reports its hash at index ${index}`);
      hashes.add(String(status.kv_hash));
    }
    expect(hashes.size).toBe(1);
  });
}, timeout);
