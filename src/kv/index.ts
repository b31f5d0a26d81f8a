export { decodeEntry, encodeCommand, encodeRawPut, encodeRequest, encodeUtf8Put, requestOf, utf8ByteLength, validateCommand, validateKey, validateValue, validateValueBytes } from "./command.ts";
export type { CommandLimits, DecodedEntry } from "./command.ts";
export { PeriodicRetention, applyRetention, defaultAutoCompaction } from "./auto_compaction.ts";
export type { AutoCompaction } from "./auto_compaction.ts";
export { hashHex, pairHash } from "./hash.ts";
export { from_key_range_end, compareKeys, prefixEnd } from "./key_order.ts";
export { MvccStore } from "./mvcc_store.ts";
export type { StoreOptions } from "./mvcc_store.ts";
export {
  validateCompact,
  validateDeleteRange,
  validateKvRequest,
  validatePut,
  validateRange,
  validateTxn,
} from "./request_validate.ts";
export type { RequestBounds } from "./request_validate.ts";
export { KvStateMachine } from "./state_machine.ts";
export type { EventListener, KvStats, SnapshotImage } from "./state_machine.ts";
export type * from "./mvcc_types.ts";
export type { KvCommand } from "./types.ts";
export { AuthStore, validatePermission } from "./auth_store.ts";
export { validateAuthName, validateAuthRequest } from "./auth_validate.ts";
export { encodeAuth } from "./command.ts";
export type * from "./auth_types.ts";
export { root_role, root_user } from "./auth_types.ts";
export { readImageSummary, type ImageSummary } from "./snapshot_image.ts";
