/** KvCommand is what a normal log entry carries (msgpackr-encoded by src/kv). Values are UTF-8 strings. */
export type KvCommand = { op: "put"; key: string; value: string } | { op: "delete"; key: string };

/** KvResult is what applying one command did; `existed` tells a delete whether the key was there. */
export interface KvResult {
  index: number;
  existed: boolean;
}
