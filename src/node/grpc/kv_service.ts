import type { EtcdBackend } from "./backend.ts";
import { decodeDeleteRange, decodePut, decodeRange, decodeTxn, encodeDeleteRange, encodePut, encodeRange, encodeTxn, int64 } from "./codec.ts";
import { header, unary } from "./rpc.ts";

/** KV: Range, Put, DeleteRange, Txn, Compact; each answer's header carries the revision the backend reports. */
export function kvService(backend: EtcdBackend) {
  return {
    Range: unary("KV/Range", async (m) => {
      const response = await backend.range(decodeRange(m));
      return encodeRange(response, header(backend, response.revision));
    }),
    Put: unary("KV/Put", async (m) => {
      const response = await backend.put(decodePut(m));
      return encodePut(response, header(backend, response.revision));
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
