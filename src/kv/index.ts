export { decodeCommand, encodeCommand, utf8ByteLength, validateCommand, validateKey, validateValue } from "./command.ts";
export type { CommandLimits } from "./command.ts";
export { hashHex, pairHash } from "./hash.ts";
export { KvStateMachine } from "./state_machine.ts";
export type { KvStats, SnapshotImage } from "./state_machine.ts";
export type { KvCommand, KvResult } from "./types.ts";
