// CPU time of other processes from /proc (Linux), to state what a server spent per request: on a shared,
// loaded machine throughput follows the scheduler, while CPU per request stays close to the server's own cost.
import { readFileSync } from "node:fs";

/** clock_ticks_per_second: USER_HZ, 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const clock_ticks_per_second = 100;

/** processCpuMs: user + system CPU of `pid` so far, in ms; NaN when it cannot be read (not Linux, gone). */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / clock_ticks_per_second;
  } catch {
    return Number.NaN;
  }
}

/** cpuDuring runs `work` and returns its result with the CPU ms each pid spent meanwhile. */
export async function cpuDuring<T>(pids: readonly number[], work: () => Promise<T>): Promise<{ result: T; cpuMs: number[] }> {
  const before = pids.map(processCpuMs);
  const result = await work();
  return { result, cpuMs: pids.map((pid, i) => processCpuMs(pid) - before[i]!) };
}
