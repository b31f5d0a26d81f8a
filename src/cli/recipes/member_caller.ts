import { isQklzlError } from "../../shared/errors.ts";
import { request } from "../client.ts";
import type { LockClient } from "./lock.ts";

/**
 * memberCaller: a LockClient over several members (`--addr a,b,c`). Each call goes to the current member and
 * follows the leader; when that member cannot be reached (unreachable, or no answer in time) the next call
 * goes to the next member, so a recipe outlives the death of the node it talks to. The recipe's own retry
 * loop (lock.ts `retrying`) repeats the failed call, which is safe: every recipe call is idempotent.
 */
export function memberCaller(addrs: string[], timeoutMs: number): LockClient {
  const members = [...new Set(addrs.map((a) => a.trim()).filter((a) => a.length > 0))];
  if (members.length === 0) throw new Error("memberCaller needs at least one address");
  let turn = 0;
  return async (method, path, body) => {
    const addr = members[turn % members.length]!;
    try {
      return (await request(addr, method, path, body, { timeoutMs, followLeader: true })) as Record<string, unknown>;
    } catch (error) {
      if (isQklzlError(error) && (error.details.unreachable === true || error.code === "timeout" || error.code === "shutting_down")) turn++;
      throw error;
    }
  };
}
