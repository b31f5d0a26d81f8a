import type { PutRequest } from "./mvcc_types.ts";

const decoder = new TextDecoder();

/**
 * bytesPut: the PutRequest of a raw put (PUT /kv/KEY, entry tag 18): the value stays the UTF-8 bytes the
 * entry holds (a view into the entry, no copy) and the store copies them straight into its arena. `value`
 * is decoded on first read only: by a watch event, or anything else that wants the string. The route checked
 * the bytes are valid UTF-8 before proposing, so the decoding is exact (no U+FFFD) and the record's bytes are
 * the same as a JSON put of the same string would write: replicas and hashes agree whichever way a value came.
 * The view must stay unchanged until apply returns (log entries are immutable; nothing reuses their buffers).
 */
export function bytesPut(key: string, bytes: Uint8Array): PutRequest {
  let text: string | undefined;
  return {
    key,
    value_bytes: bytes,
    get value(): string {
      text ??= decoder.decode(bytes);
      return text;
    },
    set value(_ignored: string) {
      throw new Error("kv: the value of a raw put is read-only");
    },
  };
}
