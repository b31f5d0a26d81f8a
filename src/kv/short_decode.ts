// decodeShortEntry: the v2 short forms of the original API's writes ([16, id|nil, key, value] a put,
// [17, id|nil, key] a delete) and the v5 raw put ([18, id|nil, key, bin value]; command.ts documents the formats)
// read by hand. Every replica decodes every
// entry it applies, and msgpackr's generic unpack of these four-element arrays cost several times what
// reading them in place does. Only the plain case is taken: fixarray, fixstr/str8/str16/str32 strings, ASCII bytes,
// nothing after the last element. Anything else (non-ASCII text, another format, a malformed entry) returns
// null and decodeEntry's generic path decides exactly as before, so this never reads an entry differently.
import { bytesPut } from "./bytes_put.ts";
import type { KvRequest } from "./mvcc_types.ts";

/** ShortEntry: what a short form decodes to (a DecodedEntry of command.ts, which imports this file). */
export interface ShortEntry {
  request: KvRequest;
  requestId: string | null;
  legacy: false;
}

const put_tag = 16;
const delete_tag = 17;
const raw_put_tag = 18;

/** Bun's Buffer has Node's latin1Slice (untyped in @types/bun); toString("latin1", …) costs a dispatch more. */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** Cursor state of one decode: the string read and the offset after it, or -1 when not the plain case. */
let end = 0;

/** start: where the data of the sized field read by `sized` begins. */
let start = 0;

/**
 * sized: the length of the msgpack str8/16/32 or bin8/16/32 whose tag is at `p` (`tag8` is the 8-bit form's tag;
 * the 16- and 32-bit forms follow it), checked to fit in `b`, with `start` set; -1 for another tag or a short `b`.
 */
function sized(b: Uint8Array, p: number, t: number, tag8: number): number {
  let n: number;
  if (t === tag8 && p + 1 < b.length) {
    n = b[p + 1]!;
    start = p + 2;
  } else if (t === tag8 + 1 && p + 2 < b.length) {
    n = (b[p + 1]! << 8) | b[p + 2]!;
    start = p + 3;
  } else if (t === tag8 + 2 && p + 4 < b.length) {
    n = b[p + 1]! * 0x1000000 + ((b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!);
    start = p + 5;
  } else {
    return -1;
  }
  return start + n > b.length ? -1 : n;
}

function str(b: Uint8Array, buf: Latin1Buffer, p: number): string | null {
  if (p >= b.length) return null;
  const t = b[p]!;
  let n: number;
  if ((t & 0xe0) === 0xa0) {
    n = t & 0x1f;
    start = p + 1;
    if (start + n > b.length) return null;
  } else {
    n = sized(b, p, t, 0xd9);
    if (n < 0) return null;
  }
  const s = start;
  const e = s + n;
  for (let i = s; i < e; i++) if (b[i]! >= 0x80) return null;
  end = e;
  // ASCII: latin1 and UTF-8 read it alike, and latin1Slice is the cheaper of Bun's two.
  return buf.latin1Slice(s, e);
}

/** bin: the bin8/bin16/bin32 at `p` as a view of `b` (end set after it), or null. */
function bin(b: Uint8Array, p: number): Uint8Array | null {
  if (p >= b.length) return null;
  const n = sized(b, p, b[p]!, 0xc4);
  if (n < 0) return null;
  end = start + n;
  return b.subarray(start, end);
}

/** decodeShortEntry: the plain short-form entry in `b`, or null (let the generic decoder read it). */
export function decodeShortEntry(b: Uint8Array): ShortEntry | null {
  if (b.length < 4) return null;
  const head = b[0]!;
  const tag = b[1]!;
  if (!((head === 0x94 && (tag === put_tag || tag === raw_put_tag)) || (head === 0x93 && tag === delete_tag))) return null;
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength) as Latin1Buffer;
  let requestId: string | null = null;
  let p = 2;
  if (b[p] === 0xc0) p++;
  else {
    requestId = str(b, buf, p);
    if (requestId === null) return null;
    p = end;
  }
  const key = str(b, buf, p);
  if (key === null || key.length === 0) return null;
  p = end;
  if (tag === delete_tag) return p === b.length ? { request: { kind: "delete_range", delete_range: { key } }, requestId, legacy: false } : null;
  if (tag === raw_put_tag) {
    // The value is a bin: a view into the entry, as msgpackr's unpack gives it (the store copies it, bytes_put.ts).
    const value = bin(b, p);
    return value === null || end !== b.length ? null : { request: { kind: "put", put: bytesPut(key, value) }, requestId, legacy: false };
  }
  const value = str(b, buf, p);
  if (value === null || end !== b.length) return null;
  return { request: { kind: "put", put: { key, value } }, requestId, legacy: false };
}
