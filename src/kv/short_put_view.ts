import { bytesPut } from "./bytes_put.ts";
import type { ShortEntry } from "./short_decode.ts";

/**
 * shortPutView reads a large v2 short-form put, [16, id or nil, key, value] (kv/command.ts), without making a
 * string of its value: the value's msgpack str bytes are exactly its UTF-8 (the proposer encoded a
 * well-formed string), so they go to the store as a view (kv/bytes_put.ts), as a raw put's do, and the string
 * is decoded only if a watcher wants it. Returns null for anything else (a small value, another form, bytes
 * it does not expect), which then takes msgpackr's decoding as before: a fast path, never a second format.
 */
export function shortPutView(data: Uint8Array, valueBytesMin: number): ShortEntry | null {
  if (data.length < valueBytesMin || data[0] !== 0x94 || data[1] !== 16) return null;
  let at = 2;
  let requestId: string | null = null;
  if (data[at] === 0xc0) {
    at++;
  } else {
    const id = str(data, at);
    if (id === null) return null;
    requestId = decoder.decode(data.subarray(id.start, id.end));
    at = id.end;
  }
  const key = str(data, at);
  if (key === null || key.end === key.start) return null;
  const value = str(data, key.end);
  if (value === null || value.end !== data.length || value.end - value.start < valueBytesMin) return null;
  const put = bytesPut(decoder.decode(data.subarray(key.start, key.end)), data.subarray(value.start, value.end));
  return { request: { kind: "put", put }, requestId, legacy: false };
}

const decoder = new TextDecoder();

/** str: where the bytes of the msgpack str at `at` start and end, or null if there is none (or it overruns). */
function str(data: Uint8Array, at: number): { start: number; end: number } | null {
  const tag = data[at];
  if (tag === undefined) return null;
  let start: number;
  let length: number;
  if (tag >= 0xa0 && tag <= 0xbf) {
    start = at + 1;
    length = tag & 0x1f;
  } else if (tag === 0xd9) {
    start = at + 2;
    length = data[at + 1] ?? -1;
  } else if (tag === 0xda) {
    start = at + 3;
    length = ((data[at + 1] ?? 0) << 8) | (data[at + 2] ?? 0);
  } else if (tag === 0xdb) {
    start = at + 5;
    length = (((data[at + 1] ?? 0) << 24) | ((data[at + 2] ?? 0) << 16) | ((data[at + 3] ?? 0) << 8) | (data[at + 4] ?? 0)) >>> 0;
  } else {
    return null;
  }
  const end = start + length;
  return length < 0 || end > data.length ? null : { start, end };
}
