import { isQklzlError, QklzlError } from "../../shared/errors.ts";
import { waitDelete } from "./wait_delete.ts";

// The etcd concurrency Mutex (client/v3/concurrency/mutex.go) over the HTTP API: a lease, a create-only put of
// NAME/<lease id> attached to it, then waitDeletes: read the key of NAME/ with the greatest create revision
// below ours, watch for its delete from the read's revision + 1, and read again, until none is left. Each
// waiter watches only its own predecessor, so a release wakes one waiter, not all (no herd). The holder's key
// revision is the fencing token: a holder paused longer than its TTL loses the lock (its key is deleted) but
// can still act, so whatever the lock protects should refuse writes carrying an older token.

/** wait_ms_max: one watch on a predecessor lasts at most this long before the range is read again (bounded). */
const wait_ms_max = 5_000;
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

/** RecipeClient: the calls, and the members' HTTP addresses to watch on (src/cli/recipes/member_caller.ts). */
export interface RecipeClient {
  call: LockClient;
  addrs: string[];
}

/** CampaignOptions: the lock or election NAME, our key's value, the lease TTL (s); `signal` gives up waiting. */
export interface CampaignOptions {
  name: string;
  value?: string;
  ttl: number;
  signal?: AbortSignal;
}

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
export function acquireLock(client: RecipeClient, options: CampaignOptions): Promise<HeldLock> {
  return campaign(client, { ...options, value: "" });
}

/**
 * campaign is the pattern under both recipes (etcd's Mutex.Lock and Election.Campaign): our key NAME/<lease>
 * holds `value`; we hold NAME once no key of NAME/ was created before ours.
 */
export async function campaign(client: RecipeClient, options: CampaignOptions): Promise<HeldLock> {
  const { name, ttl, signal } = options;
  const value = options.value ?? "";
  const call = retrying(client.call);
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
    await waitDeletes(client, call, { name, revision, signal, lost });
    return { key, revision, lease, lost, release };
  } catch (error) {
    await release().catch(() => {});
    throw error;
  }
}

/**
 * waitDeletes returns once no key of NAME/ has a create revision below `revision` (etcd's waitDeletes): it
 * reads the newest older key and waits for that key's delete through a watch starting right after the read,
 * so a delete between the read and the watch is not missed; then reads again (an older key may remain).
 * Throws timeout when `signal` aborts, lease_not_found when our own lease is lost while waiting.
 */
async function waitDeletes(
  client: RecipeClient,
  call: LockClient,
  options: { name: string; revision: number; signal?: AbortSignal; lost: Promise<QklzlError> },
): Promise<void> {
  const prefix = encodeURIComponent(`${options.name}/`);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort);
  let lostError: QklzlError | null = null;
  void options.lost.then((error) => {
    lostError = error;
    stop.abort();
  });
  try {
    for (;;) {
      if (lostError !== null) throw lostError;
      if (options.signal?.aborted) throw new QklzlError("timeout", `gave up waiting for ${JSON.stringify(options.name)}`);
      const older = await call("GET", `/kv?prefix=${prefix}&max_create_revision=${options.revision - 1}&sort=create&order=desc&limit=1&keys_only=true`);
      const predecessor = (older.kvs as { key: string }[])[0];
      if (predecessor === undefined) return;
      await waitDelete({ addrs: client.addrs, key: predecessor.key, fromRevision: (older.revision as number) + 1, waitMs: wait_ms_max, signal: stop.signal });
    }
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
}

export interface LeaderKv {
  key: string;
  value: string;
  create_revision: number;
}

/** currentLeader: the holder of NAME (its oldest key) or null (etcd's Election.Leader), and the read's revision. */
export async function currentLeader(client: LockClient, name: string): Promise<{ leader: LeaderKv | null; revision: number }> {
  const answer = await retrying(client)("GET", `/kv?prefix=${encodeURIComponent(`${name}/`)}&sort=create&order=asc&limit=1`);
  const first = (answer.kvs as LeaderKv[])[0];
  return { leader: first ?? null, revision: answer.revision as number };
}
