// DirLock keeps two live processes from opening one data directory (two writers would interleave WAL records).
// Node's fs has no flock, so the lock is a LOCK file holding "pid starttime": a lock whose process is gone
// (crash, kill -9) is stale and taken over; the start time guards against a recycled pid.
import * as fs from "node:fs";
import * as path from "node:path";
import { QklzlError } from "../shared/errors.ts";

const lock_file_name = "LOCK";

/** processStartTime reads the start time of `pid` from /proc (clock ticks since boot), or null when unknown. */
function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22; the command name (field 2) may contain spaces, so count from the closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(pid: number, startTime: string | null): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = processStartTime(pid);
  return now === null || startTime === null || now === startTime;
}

export interface DirLock {
  release(): void;
}

/** lockDir takes the directory's LOCK file, refusing when another live process holds it. */
export function lockDir(dir: string): DirLock {
  const file = path.join(dir, lock_file_name);
  const content = `${process.pid} ${processStartTime(process.pid) ?? "-"}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, content, { flag: "wx" });
      return { release: () => releaseIfOurs(file, content) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const [pidText, startText] = readLock(file);
    const pid = Number(pidText);
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid, startText === "-" ? null : (startText ?? null))) {
      throw new QklzlError(
        "bad_request",
        `data directory ${dir} is in use by process ${pid}: stop it first (if no qklzl process uses it, delete ${file})`,
        { dir, pid },
      );
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new QklzlError("bad_request", `data directory ${dir}: could not take ${file}`, { dir });
}

function readLock(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").trim().split(" ");
  } catch {
    return [];
  }
}

function releaseIfOurs(file: string, content: string): void {
  try {
    if (fs.readFileSync(file, "utf8") === content) fs.rmSync(file, { force: true });
  } catch {
    // Already gone: nothing to release.
  }
}
