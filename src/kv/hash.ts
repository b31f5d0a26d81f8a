/**
 * Content hash of the map: the XOR of a 64-bit hash of every (key, value) pair. XOR makes it independent of
 * insertion order and O(1) to maintain: a write XORs the old pair out and the new pair in. Two replicas
 * with the same map have the same hash whatever order they got there in.
 */
const kv_hash_seed = 0x716b6c7an; // "qklz"

/** pairHash: the key's length in front keeps ("ab","c") and ("a","bc") apart. */
export function pairHash(key: string, value: string): bigint {
  return Bun.hash.wyhash(`${key.length}:${key}${value}`, kv_hash_seed);
}

/** hashHex prints a 64-bit hash as 16 hex digits. */
export function hashHex(hash: bigint): string {
  return hash.toString(16).padStart(16, "0");
}
