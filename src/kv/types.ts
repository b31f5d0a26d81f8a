/** KvCommand is a put or delete of the original API (POST /kv); it is applied as a v2 request. */
export type KvCommand = { op: "put"; key: string; value: string } | { op: "delete"; key: string };
