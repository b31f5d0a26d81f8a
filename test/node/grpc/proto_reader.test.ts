import { describe, expect, test } from "bun:test";
import { readLength, readSmallVarint } from "../../../src/node/grpc/proto_reader.ts";

const cursor = (bytes: number[], at = 0) => ({ bytes: Buffer.from(bytes), at, end: bytes.length });

describe("proto_reader", () => {
  test("readLength reads a length that fits and moves past it, not past the field", () => {
    const c = cursor([0x03, 1, 2, 3]);
    expect(readLength(c, 21)).toBe(3);
    expect(c.at).toBe(1);
    const two = cursor([0x80, 0x01, ...new Array(128).fill(0)]);
    expect(readLength(two, 21)).toBe(128);
    expect(two.at).toBe(2);
  });

  test("readLength refuses a truncated varint, a length past the end, and groups beyond maxShift", () => {
    const truncated = cursor([0x80]);
    expect(readLength(truncated, 21)).toBe(-1);
    expect(truncated.at).toBe(0);
    expect(readLength(cursor([0x05, 1, 2]), 21)).toBe(-1);
    // Five 7-bit groups: the fifth starts at shift 28, over 21 and not over 28 (then the length is past the end).
    const five = [0x80, 0x80, 0x80, 0x80, 0x01];
    expect(readLength(cursor(five), 21)).toBe(-1);
    expect(readLength(cursor([0x80, 0x80, 0x80, 0x01]), 21)).toBe(-1); // 2^21 bytes: past the end, not the shift
    expect(readLength(cursor([0x00]), 0)).toBe(0);
    // The same two-group length that fits: refused when maxShift stops at the first group, read when it does not.
    const fits = [0x80, 0x01, ...new Array(128).fill(0)];
    expect(readLength(cursor(fits), 0)).toBe(-1);
    expect(readLength(cursor(fits), 7)).toBe(128);
  });

  test("readSmallVarint reads up to 7 bytes and refuses 8 or a truncated one", () => {
    const c = cursor([0xac, 0x02, 0x07], 0);
    expect(readSmallVarint(c)).toBe(300);
    expect(c.at).toBe(2);
    expect(readSmallVarint(c)).toBe(7);
    const seven = cursor([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(readSmallVarint(seven)).toBe(2 ** 49 - 1);
    expect(readSmallVarint(cursor([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toBe(-1);
    expect(readSmallVarint(cursor([0x80, 0x80]))).toBe(-1);
  });
});
