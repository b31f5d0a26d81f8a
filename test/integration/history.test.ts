import { expect, test } from "bun:test";
import { checkHistory, type Op } from "../../scenarios/harness.ts";

// The stale-read checker must flag what it claims to flag, or the linearizability test proves nothing.

function w(value: string, invokeMs: number, completeMs: number): Op {
  return { kind: "write", client: "w0", key: "k", value, invokeMs, completeMs, node: 1 };
}

function r(value: string | null, invokeMs: number, completeMs: number, node = 2): Op {
  return { kind: "read", client: "r0", key: "k", value, invokeMs, completeMs, node };
}

test("a clean sequential history passes", () => {
  expect(checkHistory([r(null, 0, 1), w("a", 2, 3), r("a", 4, 5), w("b", 6, 7), r("b", 8, 9)])).toEqual([]);
});

test("a read concurrent with a write may return either value", () => {
  expect(checkHistory([w("a", 0, 1), w("b", 2, 10), r("a", 3, 4), r("b", 5, 6)])).toEqual([]);
});

test("a write with unknown outcome may show up later", () => {
  expect(checkHistory([w("a", 0, 1), w("b", 2, Number.POSITIVE_INFINITY), r("b", 50, 51), r("b", 60, 61)])).toEqual([]);
});

test("a stale read (value overwritten before the read began) is flagged", () => {
  const violations = checkHistory([w("a", 0, 1), w("b", 2, 3), r("a", 4, 5)]);
  expect(violations).toHaveLength(1);
  expect(violations[0]).toContain("stale");
});

test("a read going back in time after another read saw the newer value is flagged", () => {
  // b's write is concurrent with both reads, so each read alone is fine; their order is not.
  const violations = checkHistory([w("a", 0, 1), w("b", 2, 20), r("b", 3, 4), r("a", 5, 6)]);
  expect(violations.some((v) => v.includes("back in time"))).toBe(true);
});

test("a 404 after an acknowledged write, a value from the future and an unknown value are flagged", () => {
  expect(checkHistory([w("a", 0, 1), r(null, 2, 3)])).toHaveLength(1);
  expect(checkHistory([r("a", 0, 1), w("a", 2, 3)])).toHaveLength(1);
  expect(checkHistory([r("zzz", 0, 1)])).toHaveLength(1);
});
