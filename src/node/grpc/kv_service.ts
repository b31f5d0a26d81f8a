import type { EtcdBackend, PutResponse } from "./backend.ts";
import { decodeDeleteRange, decodePut, decodeRange, decodeTxn, encodeDeleteRange, encodePut, encodeRange, encodeTxn, int64, type Msg, text } from "./codec.ts";
import { EtcdError } from "./errors.ts";
import { header, unary } from "./rpc.ts";

const empty = new Uint8Array(0);

/**
 * plainPutKey: the key of a put without a lease, prev_kv or ignore flags whose value is bytes (almost every
 * put), decoded and checked as decodePut does; null for any other put (decodePut and put() take it).
 */
export function plainPutKey(m: Msg): string | null {
  if ((m.lease !== "0" && m.lease !== 0 && m.lease !== undefined) || m.prev_kv === true || m.ignore_value === true || m.ignore_lease === true) return null;
  if (m.value !== undefined && m.value !== null && !(m.value instanceof Uint8Array)) return null;
  const key = text(m.key, "key");
  if (key === "") throw new EtcdError("empty_key", "the put has no key");
  return key;
}

/** KV: Range, Put, DeleteRange, Txn, Compact; each answer's header carries the revision the backend reports. */
export function kvService(backend: EtcdBackend) {
  const putAnswer = (response: PutResponse) => encodePut(response, header(backend, response.revision));
  return {
    Range: unary("KV/Range", async (m) => {
      const response = await backend.range(decodeRange(m));
      return encodeRange(response, header(backend, response.revision));
    }),
    // Not async (one hop less per call); a plain put goes to putBytes with its value still the request's bytes.
    Put: unary("KV/Put", (m) => {
      const key = backend.putBytes === undefined ? null : plainPutKey(m);
      const answer = key === null ? backend.put(decodePut(m)) : backend.putBytes!(key, (m.value as Uint8Array | null | undefined) ?? empty);
      return answer.then(putAnswer);
    }),
    DeleteRange: unary("KV/DeleteRange", async (m) => {
      const response = await backend.deleteRange(decodeDeleteRange(m));
      return encodeDeleteRange(response, header(backend, response.revision));
    }),
    Txn: unary("KV/Txn", async (m) => {
      const response = await backend.txn(decodeTxn(m));
      return encodeTxn(response, header(backend, response.revision));
    }),
    Compact: unary("KV/Compact", async (m) => {
      const response = await backend.compact({ revision: int64(m.revision, "revision"), physical: m.physical === true });
      return { header: header(backend, response.revision) };
    }),
  };
}
