// The two varint reads of the hand-written codecs (put_codec.ts, range_codec.ts): a length-delimited field's
// length and a small varint. Each moves the cursor and returns -1 where the input is outside the common shape
// the codecs take on themselves (truncated, too long), so the caller falls back to proto-loader's codec.

/** ProtoCursor: where a decode stands in one message. */
export interface ProtoCursor {
  readonly bytes: Buffer;
  at: number;
  readonly end: number;
}

/** small_varint_bytes: varints of at most 7 bytes (< 2^49) are read as numbers here; longer ones fall back. */
const small_varint_bytes = 7;

/**
 * readLength: a length-delimited field's length, checked to fit in what is left; -1 if truncated or if a 7-bit
 * group would start past `maxShift` (the bound on lengths the caller accepts: 21 keeps them < 2^28).
 */
export function readLength(c: ProtoCursor, maxShift: number): number {
  const { bytes, end } = c;
  let at = c.at;
  let length = 0;
  let shift = 0;
  let byte: number;
  do {
    if (at >= end || shift > maxShift) return -1;
    byte = bytes[at++]!;
    length += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte >= 0x80);
  if (at + length > end) return -1;
  c.at = at;
  return length;
}

/** readSmallVarint: a varint of at most small_varint_bytes as a number; -1 if truncated or longer. */
export function readSmallVarint(c: ProtoCursor): number {
  const { bytes, end } = c;
  let at = c.at;
  let n = 0;
  let count = 0;
  let byte: number;
  do {
    if (at >= end || count === small_varint_bytes) return -1;
    byte = bytes[at++]!;
    n += (byte & 0x7f) * 2 ** (7 * count);
    count++;
  } while (byte >= 0x80);
  c.at = at;
  return n;
}
