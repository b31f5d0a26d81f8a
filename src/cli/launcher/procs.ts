import type { Subprocess } from "bun";

// procs.ts remembers every process the launcher spawned, so that every one is killed by PID however the run
// ends: normal exit, a thrown error, Ctrl-C or SIGTERM. Stopped (SIGSTOP) processes die on SIGKILL too.

const live = new Map<number, Subprocess>();

export function track(proc: Subprocess): void {
  live.set(proc.pid, proc);
  void proc.exited.then(() => live.delete(proc.pid));
}

/** killAllSync sends SIGKILL to every process still alive; safe to call from an exit handler. */
export function killAllSync(): void {
  for (const [pid, proc] of live) {
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    live.delete(pid);
  }
}

export function liveCount(): number {
  return live.size;
}

let installed = false;

/** installCleanupHandlers: on exit or on SIGINT/SIGTERM/SIGHUP, kill every spawned process first. */
export function installCleanupHandlers(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAllSync);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(signal, () => {
      killAllSync();
      process.exit(code);
    });
  }
}
