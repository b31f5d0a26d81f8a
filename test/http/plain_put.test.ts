// plainPut (POST /kv's large plain put read without JSON.parse) never reads a body differently from JSON.parse:
// whatever it accepts, JSON.parse reads as {op:"put", key, value} with the same key and value bytes; the
// printable check agrees with a byte loop at every alignment; and the route answers a plain put as the JSON
// path does, errors included.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { plain_put_bytes_min, plainPut, plainPutText, printable } from "../../src/node/http/plain_put.ts";
import { postJson, startTestNode, type TestNode } from "./fake_api.ts";

const utf8 = new TextEncoder();
const bodyOf = (key: string, value: string) => utf8.encode(`{"op":"put","key":"${key}","value":"${value}"}`);
const big = "v".repeat(plain_put_bytes_min);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** agrees: plainPut's reading of b is JSON.parse's, or plainPut declined it. */
function agrees(b: Uint8Array): boolean {
  const fast = plainPut(b);
  if (fast === null) return false;
  const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b)) as Record<string, unknown>;
  expect(Object.keys(parsed)).toEqual(["op", "key", "value"]);
  expect(parsed.op).toBe("put");
  expect(parsed.key).toBe(fast.key);
  expect(Buffer.from(utf8.encode(parsed.value as string)).equals(Buffer.from(fast.value))).toBe(true);
  expect(plainPutText(fast)).toBe(new TextDecoder().decode(b)); // what a 307 or a forward sends on
  expect(fast.value.byteOffset - b.byteOffset).toBe(fast.spare);
  return true;
}

describe("plainPut", () => {
  test("printable agrees with a byte loop at every alignment and length", () => {
    const r = rng(3);
    const naive = (b: Uint8Array, s: number, e: number) => b.subarray(s, e).every((c) => c >= 0x20 && c < 0x80);
    const buf = new Uint8Array(300);
    for (let round = 0; round < 4000; round++) {
      for (let i = 0; i < buf.length; i++) buf[i] = 0x20 + Math.floor(r() * 0x60);
      const bad = Math.floor(r() * 4);
      for (let n = 0; n < bad; n++) buf[Math.floor(r() * buf.length)] = Math.floor(r() * 256);
      const s = Math.floor(r() * 40);
      const e = s + Math.floor(r() * (buf.length - s));
      expect(printable(buf, s, e)).toBe(naive(buf, s, e));
    }
    for (let v = 0; v < 256; v++) {
      for (let at = 0; at < 8; at++) {
        buf.fill(0x61);
        buf[16 + at] = v;
        expect(printable(buf, 3, 40)).toBe(v >= 0x20 && v < 0x80);
      }
    }
  });

  test("takes the exact plain form of a large put, and reads it as JSON.parse does", () => {
    expect(agrees(bodyOf("bench-key-00000001", big))).toBe(true);
    expect(agrees(bodyOf("", big))).toBe(true); // an empty key: validateKey's 400 follows, as on the JSON path
    expect(agrees(bodyOf("a/b c~", ` !#$%&'()*+,-./09:;<=>?@AZ[]^_\`az{|}~\x7f${big}`))).toBe(true);
  });

  test("declines everything else: small bodies, spaces, escapes, control or non-ASCII bytes, other fields or orders", () => {
    const declined = [
      bodyOf("k", "v".repeat(plain_put_bytes_min - 40)),
      utf8.encode(`{"op": "put","key":"k","value":"${big}"}`),
      utf8.encode(`{"op":"put","key":"k","value":"${big}"}\n`),
      utf8.encode(`{"op":"put","key":"k","value":"${big}\\n"}`),
      utf8.encode(`{"op":"put","key":"k\\"","value":"${big}"}`),
      utf8.encode(`{"op":"put","key":"k","value":"${big}","lease":1}`),
      utf8.encode(`{"op":"put","value":"${big}","key":"k"}`),
      utf8.encode(`{"op":"delete","key":"k","value":"${big}"}`),
      utf8.encode(`{"op":"put","key":"k","value":"${big}\t"}`),
      utf8.encode(`{"op":"put","key":"k","value":"${big}é"}`),
      utf8.encode(`{"op":"put","key":"kö","value":"${big}"}`),
      utf8.encode(`{"op":"put","key":"k","value":"${big}"x"}`),
      utf8.encode(`{"op":"put","key":"k","value":${big}}`),
    ];
    for (const b of declined) expect(plainPut(b)).toBeNull();
  });

  test("a damaged body is either declined or read exactly as JSON.parse reads it", () => {
    const r = rng(11);
    const base = bodyOf("key-1", "x".repeat(plain_put_bytes_min + 20));
    let taken = 0;
    for (let round = 0; round < 3000; round++) {
      const b = base.slice();
      const at = r() < 0.5 ? Math.floor(r() * 40) : b.length - 1 - Math.floor(r() * 40);
      b[at] = [0x22, 0x5c, 0x7d, 0x20, 0x00, 0x1f, 0x80, 0xff, 0x2c, 0x3a, 0x61][Math.floor(r() * 11)]!;
      if (plainPut(b) === null) continue;
      expect(agrees(b)).toBe(true); // JSON.parse must accept it, with the same reading
      taken++;
    }
    expect(taken).toBeGreaterThan(0);
  });
});

describe("POST /kv, plain large put", () => {
  let node: TestNode;
  beforeAll(() => {
    node = startTestNode(1, { maxKeyBytes: 64, maxValueBytes: 4096 });
  });
  afterAll(() => node.server.stop());

  const answer = async (body: string) => {
    const response = await postJson(`${node.base}/kv`, body);
    return { status: response.status, body: await response.text() };
  };

  test("goes to putUtf8 with the value's bytes and answers as the JSON path", async () => {
    const value = "p".repeat(2000);
    const fast = await answer(`{"op":"put","key":"a","value":"${value}"}`);
    const call = node.api.calls.at(-1)!;
    expect(call.method).toBe("putUtf8");
    expect(call.args[0]).toBe("a");
    expect(new TextDecoder().decode(call.args[1] as Uint8Array)).toBe(value);
    const json = await answer(`{"op": "put","key":"a","value":"${value}"}`); // a space: the JSON path
    expect(node.api.calls.at(-1)!.method).toBe("write");
    expect(fast.status).toBe(200);
    expect(JSON.parse(fast.body)).toEqual({ ok: true, index: JSON.parse(json.body).index - 1 });
    expect(node.api.data.get("a")).toBe(value);
  });

  test("refusals are the JSON path's: empty key, key and value over their limits", async () => {
    for (const [key, value] of [["", "v".repeat(2000)], ["k".repeat(65), "v".repeat(2000)], ["k", "v".repeat(4097)]] as const) {
      const fast = await answer(`{"op":"put","key":"${key}","value":"${value}"}`);
      const json = await answer(`{"op": "put","key":"${key}","value":"${value}"}`);
      expect(fast.status).toBeGreaterThanOrEqual(400);
      expect(fast).toEqual(json);
    }
    expect(node.api.calls.some((c) => c.method === "putUtf8" && (c.args[0] === "" || (c.args[1] as Uint8Array).length > 4096))).toBe(false);
  });
});
