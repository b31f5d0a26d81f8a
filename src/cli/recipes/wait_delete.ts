import { isQklzlError } from "../../shared/errors.ts";
import { followWatch } from "../watch_client.ts";

/** WaitDeleteOptions: where to watch, what, and for how long at most. */
export interface WaitDeleteOptions {
  /** addrs: members to watch on (followWatch moves to the next one, and to those it learns, if one dies). */
  addrs: string[];
  key: string;
  /** fromRevision: the first revision to look at (the revision of the read that found `key` + 1). */
  fromRevision: number;
  /** waitMs: give up after this long and answer "recheck" (the caller reads again: the wait is bounded). */
  waitMs: number;
  signal?: AbortSignal;
}

/**
 * waitDelete waits for a delete event of `key` at or after `fromRevision` (etcd's waitDelete in
 * client/v3/concurrency/key.go): "deleted" once seen, "recheck" when waitMs passed or the watch could not go
 * on (e.g. fromRevision was compacted away: the delete may be in the compacted past), "aborted" when `signal`
 * aborts. It never decides on its own that the key is gone: after "recheck" the caller reads the range again.
 */
export async function waitDelete(options: WaitDeleteOptions): Promise<"deleted" | "recheck" | "aborted"> {
  if (options.signal?.aborted) return "aborted";
  const stop = new AbortController();
  let outcome: "deleted" | "recheck" | "aborted" = "recheck";
  const onAbort = () => {
    outcome = "aborted";
    stop.abort();
  };
  options.signal?.addEventListener("abort", onAbort);
  const timer = setTimeout(() => stop.abort(), options.waitMs);
  try {
    await followWatch({
      addrs: options.addrs,
      query: new URLSearchParams({ key: options.key, filter: "noput" }),
      startRevision: options.fromRevision,
      signal: stop.signal,
      onEvents: (_revision, events) => {
        if (!events.some((e) => e.type === "delete" && e.kv.key === options.key)) return;
        if (outcome === "recheck") outcome = "deleted";
        stop.abort();
      },
      // Reconnect notes are the watch's business; the recipe re-reads after a bounded wait either way.
      onNote: () => {},
    });
  } catch (error) {
    // compacted or bad_request: no member can resume this watch; the caller's next read decides.
    if (!isQklzlError(error)) throw error;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
  return outcome;
}
