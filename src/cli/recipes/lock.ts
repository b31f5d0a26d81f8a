import { isQklzlError, QklzlError } from "../../shared/errors.ts";

// The etcd concurrency Mutex (client/v3/concurrency/mutex.go) over the HTTP API: a lease, a create-only put of
// NAME/<lease id> attached to it, then a wait until no key of NAME/ was created before ours. The holder's key
// revision is the fencing token: a holder paused longer than its TTL loses the lock (its key is deleted) but can
// still act, so whatever the lock protects should refuse writes carrying an older token.
//
// TODO(watch): the wait polls the range every poll_ms; switch it to GET /watch on the predecessor's delete once
// the watch hub is merged (issue 13, helper h11), which also removes the polling load.

const poll_ms = 100;
/** Transient failures (an election, a member down) are retried for this long; each call here is idempotent. */
const retry_ms_max = 20_000;
const transient_codes = new Set(["no_leader", "no_quorum", "overloaded", "not_leader", "shutting_down", "transfer_in_progress", "timeout", "internal"]);

/**
 * retrying: the call again after a transient failure. Every call of the recipe may be repeated: a keepalive, a
 * range read, the create-only put (a repeat finds our own key: compare_failed names it), a revoke (a repeat is
 * lease_not_found), a grant (a repeat may leave one unused lease behind, which expires).
 */
function retrying(call: LockClient): LockClient {
  return async (method, path, body) => {
    const deadline = performance.now() + retry_ms_max;
    for (;;) {
      try {
        return await call(method, path, body);
      } catch (error) {
        if (!isQklzlError(error) || !transient_codes.has(error.code) || performance.now() > deadline) throw error;
        await Bun.sleep(200);
      }
    }
  };
}

/** LockClient: one HTTP call to the cluster (any member; lease calls are forwarded, writes follow the leader). */
export type LockClient = (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>;

export interface HeldLock {
  key: string;
  /** revision: the create revision of our key, the fencing token. */
  revision: number;
  lease: number;
  /** lost resolves when the lease could not be kept alive (expired or revoked): the lock is no longer held. */
  lost: Promise<QklzlError>;
  /** release revokes the lease (deleting our key) and stops the keepalives. */
  release(): Promise<void>;
}

/**
 * acquireLock waits (until `signal` aborts) for the lock NAME and returns it held. The keepalives run every
 * TTL/3 from the grant on, also while waiting, so a waiter keeps its place in the queue.
 */
export function acquireLock(client: LockClient, name: string, ttl: number, signal?: AbortSignal): Promise<HeldLock> {
  return campaign(client, name, "", ttl, signal);
}

/**
 * campaign is the pattern under both recipes (etcd's Mutex.Lock and Election.Campaign): our key NAME/<lease>
 * holds `value`; we hold NAME once no key of NAME/ was created before ours.
 */
export async function campaign(client: LockClient, name: string, value: string, ttl: number, signal?: AbortSignal): Promise<HeldLock> {
  const call = retrying(client);
  const granted = await call("POST", "/lease/grant", { ttl });
  const lease = granted.id as number;
  const grantedTtl = granted.ttl as number;
  let stopped = false;
  let reportLost!: (error: QklzlError) => void;
  const lost = new Promise<QklzlError>((resolve) => (reportLost = resolve));
  const keepAlive = (async () => {
    while (!stopped) {
      await Bun.sleep(Math.max(200, (grantedTtl * 1000) / 3));
      if (stopped) return;
      try {
        await call("POST", "/lease/keepalive", { id: lease });
      } catch (error) {
        if (isQklzlError(error) && error.code === "lease_not_found") {
          reportLost(error);
          return;
        }
        // A member down or an election: the next beat retries (the TTL leaves two more).
      }
    }
  })();
  const release = async () => {
    stopped = true;
    try {
      await call("POST", "/lease/revoke", { id: lease });
    } catch (error) {
      if (!(isQklzlError(error) && error.code === "lease_not_found")) throw error;
    } finally {
      await keepAlive;
    }
  };
  try {
    const key = `${name}/${lease.toString(16)}`;
    let revision: number;
    try {
      const put = await call("POST", "/kv", { op: "put", key, value, lease, if: { create_revision: 0 } });
      revision = put.revision as number;
    } catch (error) {
      // A repeated put (the first one's answer was lost) finds the key it created: ours (the lease id is unique).
      const kv = isQklzlError(error) && error.code === "compare_failed" ? (error.details.kv as { create_revision?: number } | null) : null;
      if (kv?.create_revision === undefined) throw error;
      revision = kv.create_revision;
    }
    const prefix = encodeURIComponent(`${name}/`);
    for (;;) {
      if (signal?.aborted) throw new QklzlError("timeout", `gave up waiting for ${JSON.stringify(name)}`);
      // (count_only would count before the filter, as etcd: ask for one key instead.)
      const older = await call("GET", `/kv?prefix=${prefix}&max_create_revision=${revision - 1}&limit=1&keys_only=true`);
      if ((older.kvs as unknown[]).length === 0) return { key, revision, lease, lost, release };
      await Bun.sleep(poll_ms);
    }
  } catch (error) {
    await release().catch(() => {});
    throw error;
  }
}

export interface LeaderKv {
  key: string;
  value: string;
  create_revision: number;
}

/** currentLeader: the holder of NAME (its oldest key), or null (etcd's Election.Leader). */
export async function currentLeader(client: LockClient, name: string): Promise<LeaderKv | null> {
  const answer = await retrying(client)("GET", `/kv?prefix=${encodeURIComponent(`${name}/`)}&sort=create&order=asc&limit=1`);
  const first = (answer.kvs as LeaderKv[])[0];
  return first ?? null;
}
