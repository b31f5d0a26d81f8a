// plainPut: the large POST /kv body in its plainest form, read without JSON.parse. A 16 KiB put's body went
// through three transcodings on the leader: bytes to text (TextDecoder), text to a value string (JSON.parse),
// and the string back to UTF-8 (msgpackr, into the entry), each into fresh memory: about a fifth of the
// leader's CPU at that size. A body that is exactly {"op":"put","key":"K","value":"V"} (no spaces, these three
// fields in this order, K and V printable ASCII without escapes) means the same to JSON.parse as its bytes
// say, so the value's bytes go into the entry as they are (kv encodeUtf8Put: the same entry bytes as before).
// Anything else returns null and takes the JSON path, which decides exactly as it always did.

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const head = ascii('{"op":"put","key":"');
/** middle: the key's closing quote through the value's opening one. */
const middle = ascii('","value":"');
const quote = 0x22;
const backslash = 0x5c;
const close_brace = 0x7d;

/** plain_put_bytes_min: smaller bodies keep the JSON path (at 100 B it is as cheap, and its answers are pinned). */
export const plain_put_bytes_min = 1024;

const decoder = new TextDecoder();

export interface PlainPut {
  key: string;
  /** value: a view of the body's value bytes (printable ASCII, so valid UTF-8). */
  value: Uint8Array;
  /** spare: the body's bytes before the value, which putUtf8 may overwrite with the entry's head. */
  spare: number;
}

/**
 * plainPutText: the body a plain put came in, rebuilt from its key and value (its opening may have been
 * overwritten by then: PlainPut.spare). The form is fixed, so this is the very text the client sent.
 */
export function plainPutText(put: PlainPut): string {
  return `{"op":"put","key":"${put.key}","value":"${decoder.decode(put.value)}"}`;
}

function startsWith(body: Uint8Array, part: Uint8Array, at: number): boolean {
  if (at + part.length > body.length) return false;
  for (let i = 0; i < part.length; i++) if (body[at + i] !== part[i]) return false;
  return true;
}

/**
 * printable: every byte of body[start, end) is in 0x20..0x7f (JSON refuses raw control characters; anything
 * from 0x80 is left to the JSON path). Four bytes at a time: a byte b is outside when b ≥ 0x80 (its top bit)
 * or b < 0x20 (then b - 0x20 borrows into the top bit while b's own top bit is clear); a borrow only ever
 * starts at such a byte, so no valid byte is flagged by its neighbour's borrow without an invalid byte there.
 */
export function printable(body: Uint8Array, start: number, end: number): boolean {
  let i = start;
  const offset = body.byteOffset;
  while (i < end && ((offset + i) & 3) !== 0) {
    const c = body[i]!;
    if (c < 0x20 || c >= 0x80) return false;
    i++;
  }
  const words = (end - i) >> 2;
  if (words > 0) {
    const view = new Uint32Array(body.buffer, offset + i, words);
    let bad = 0;
    for (let w = 0; w < words; w++) {
      const x = view[w]!;
      bad |= x | ((x - 0x20202020) & ~x);
    }
    if ((bad & 0x80808080) !== 0) return false;
    i += words * 4;
  }
  for (; i < end; i++) {
    const c = body[i]!;
    if (c < 0x20 || c >= 0x80) return false;
  }
  return true;
}

/** plainPut: the key and the value bytes of a body in the plain form, or null (take the JSON path). */
export function plainPut(body: Uint8Array): PlainPut | null {
  if (body.length < plain_put_bytes_min || !startsWith(body, head, 0)) return null;
  const keyStart = head.length;
  const keyEnd = body.indexOf(quote, keyStart);
  if (keyEnd < 0 || !startsWith(body, middle, keyEnd)) return null;
  const valueStart = keyEnd + middle.length;
  const valueEnd = body.length - 2;
  if (valueEnd < valueStart || body[valueEnd] !== quote || body[valueEnd + 1] !== close_brace) return null;
  // No quote inside the value (the key's end is its first quote), no escape anywhere (head and middle have none).
  if (body.indexOf(quote, valueStart) !== valueEnd || body.indexOf(backslash, keyStart) !== -1) return null;
  if (!printable(body, keyStart, keyEnd) || !printable(body, valueStart, valueEnd)) return null;
  return { key: decoder.decode(body.subarray(keyStart, keyEnd)), value: body.subarray(valueStart, valueEnd), spare: valueStart };
}
