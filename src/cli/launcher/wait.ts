import { CheckError, show } from "./check.ts";

// wait.ts: the one waitFor of the launcher, the scenarios and the tests. Every wait polls a condition under a
// deadline and, on timeout, says what it waited for and what it saw last; there are no fixed sleeps.

export type Done<T> = Exclude<NonNullable<T>, false | NotYet>;

export interface WaitOptions {
  deadlineMs: number;
  /** what: the condition in words, for the timeout message ("a leader among nodes 2 and 3"). */
  what: string;
  intervalMs?: number;
}

/** NotYet is what a probe returns to say "not yet, and this is what I saw" (shown if the wait times out). */
export class NotYet {
  constructor(readonly seen: unknown) {}
}

export function notYet(seen: unknown): NotYet {
  return new NotYet(seen);
}

/**
 * waitFor polls `probe` until it returns something other than false, null, undefined or a NotYet, and returns
 * that. A probe that throws a CheckError fails the wait at once; any other throw counts as "not yet" (a node still
 * starting refuses connections) and is kept for the timeout message.
 */
export async function waitFor<T>(probe: () => Promise<T> | T, options: WaitOptions): Promise<Done<T>> {
  const started = performance.now();
  const intervalMs = options.intervalMs ?? 50;
  let last: unknown = "(never evaluated)";
  for (;;) {
    try {
      const value = await probe();
      if (value instanceof NotYet) last = value.seen;
      else if (value !== false && value !== null && value !== undefined) return value as Done<T>;
      else last = value;
    } catch (error) {
      // A failed check inside a probe is a definite failure (a node exited): stop waiting at once.
      if (error instanceof CheckError) throw error;
      last = error instanceof Error ? `${error.name}: ${error.message}` : error;
    }
    const elapsed = performance.now() - started;
    if (elapsed >= options.deadlineMs) {
      throw new CheckError(`timed out after ${(elapsed / 1000).toFixed(1)} s waiting for ${options.what} (last seen: ${show(last)})`);
    }
    await Bun.sleep(Math.min(intervalMs, Math.max(1, options.deadlineMs - elapsed)));
  }
}

/** withDeadline rejects with a CheckError if `promise` has not settled within `deadlineMs`. */
export async function withDeadline<T>(promise: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckError(`${what} did not finish within ${(deadlineMs / 1000).toFixed(1)} s`)), deadlineMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
