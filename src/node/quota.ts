import * as fs from "node:fs";
import * as os from "node:os";
import type { ConsolaInstance } from "consola";
import { growsStore, noSpaceError } from "../kv/alarms.ts";
import type { KvRequest, KvStateMachine } from "../kv/index.ts";

/** quota_backend_bytes_max: the default never exceeds etcd's suggested maximum (8 GiB). */
export const quota_backend_bytes_max = 8 * 1024 ** 3;
/** quota_backend_bytes_min: nor goes below 64 MiB (a nearly full machine still gets a usable store). */
export const quota_backend_bytes_min = 64 * 1024 ** 2;

/**
 * defaultQuotaBytes: --quota-backend-bytes when not given, from what this machine has free at start: half the
 * free memory (the whole store lives in memory, and serializing a snapshot needs room beside it) and a quarter
 * of the free space under the data directory (two snapshots are kept, a third is written beside them, plus the
 * WAL), the smaller of the two, within [64 MiB, 8 GiB]. A figure of the machine at start, logged: members of one
 * cluster may differ, and each member refuses by its own.
 */
export function defaultQuotaBytes(dataDir: string): { bytes: number; why: string } {
  const memory = Math.floor(os.freemem() / 2);
  let disk = Number.POSITIVE_INFINITY;
  try {
    const stats = fs.statfsSync(fs.existsSync(dataDir) ? dataDir : ".");
    disk = Math.floor((stats.bavail * stats.bsize) / 4);
  } catch {
    // No statfs for that path: the memory figure alone.
  }
  const bytes = Math.min(quota_backend_bytes_max, Math.max(quota_backend_bytes_min, Math.min(memory, disk)));
  const mib = (n: number) => (Number.isFinite(n) ? `${Math.round(n / 1024 ** 2)} MiB` : "unknown");
  return { bytes, why: `min(free memory / 2 = ${mib(memory)}, free disk / 4 = ${mib(disk)}), within [64 MiB, 8 GiB]` };
}

export interface QuotaContext {
  kv: KvStateMachine;
  selfId: number;
  quotaBytes: number;
  logger: ConsolaInstance;
  isLeader(): boolean;
  /** raiseNoSpace proposes the NOSPACE alarm for this member (resolves once applied). */
  raiseNoSpace(): Promise<unknown>;
  /**
   * raiseThroughOthers asks another member (the leader, or one that forwards to it) to raise NOSPACE for this
   * member: a node whose own disk is full cannot get an entry of its own written (disk_full.ts).
   */
  raiseThroughOthers(): Promise<unknown>;
}

/**
 * Quota is etcd's backend quota over the MVCC store's size (its arena bytes: every kept record, heads and
 * history, which the store keeps counted, so reading it costs nothing). Past the quota the leader raises
 * NOSPACE through the log; the alarm, not this node's own figure, is what refuses writes at apply, so every
 * replica refuses the same entries. admit is the fast check before proposing: it answers no_space at once
 * while the alarm is raised, past the quota, or while this node's disk is full (disk_full.ts), instead of
 * proposing an entry that would be refused at apply anyway.
 */
export class Quota {
  /** diskFull: set by the disk guard while this node's WAL cannot be written (ENOSPC). */
  diskFull = false;
  private raising = false;

  constructor(private readonly context: QuotaContext) {}

  get quotaBytes(): number {
    return this.context.quotaBytes;
  }

  /** storeBytes: the figure measured against the quota. */
  storeBytes(): number {
    return this.context.kv.memory().liveBytes;
  }

  /** admit throws the refusal a write gets now (no_space, corrupt), or returns. */
  admit(request: KvRequest): void {
    const refused = this.context.kv.alarmRefusal(request);
    if (refused !== null) throw refused;
    if (!growsStore(request)) return;
    if (this.diskFull) throw noSpaceError([this.context.selfId]);
    if (this.storeBytes() > this.context.quotaBytes) throw noSpaceError([this.context.selfId]);
  }

  /**
   * tick: on the leader, raise NOSPACE once the store is past the quota (again after a disarm, if still past);
   * on any member whose disk is full, have NOSPACE raised for it through the others.
   */
  tick(): void {
    const { kv, selfId } = this.context;
    if (this.raising) return;
    if (kv.alarmList().some((alarm) => alarm.alarm === "NOSPACE" && alarm.member_id === selfId)) return;
    let raise: () => Promise<unknown>;
    if (this.diskFull) {
      raise = () => this.context.raiseThroughOthers();
    } else if (this.context.isLeader() && this.storeBytes() > this.context.quotaBytes) {
      this.context.logger.warn(`store is ${this.storeBytes()} bytes, past --quota-backend-bytes ${this.context.quotaBytes}: raising the NOSPACE alarm`);
      raise = () => this.context.raiseNoSpace();
    } else {
      return;
    }
    this.raising = true;
    raise()
      .catch((error) => this.context.logger.warn(`raising NOSPACE failed (retried next tick): ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        this.raising = false;
      });
  }
}
