import type { ConsolaInstance } from "consola";
import type { HashSample } from "../kv/hash_samples.ts";
import type { AlarmMember, AlarmType } from "../kv/index.ts";
import { memberFetchInit, memberUrl, type MemberHttp } from "./cluster_client.ts";

/** MemberHashes: one member's recent samples (null: it could not be asked). */
export interface MemberHashes {
  id: number;
  samples: HashSample[] | null;
}

export type HashVerdict =
  | { kind: "agree"; index: number; members: number[] }
  | { kind: "diverged"; index: number; revision: number; suspects: number[]; hashes: { id: number; hash: string }[] }
  | { kind: "no_common_index" };

/**
 * judgeMemberHashes compares the members' samples at the newest index all of them hold (kv/hash_samples.ts:
 * every member samples at the same indexes, so one that applied the same entries has the same hash there).
 * The suspects are the members outside the largest group of equal hashes; with no strict majority, the
 * members whose hash differs from the leader's (etcd's checkHashKV also judges from the leader). Pure.
 */
export function judgeMemberHashes(leaderId: number, members: readonly MemberHashes[]): HashVerdict {
  const answered = members.filter((m): m is { id: number; samples: HashSample[] } => m.samples !== null);
  // A member too far behind (a learner catching up) shares no index with the leader yet: it waits for a later
  // round instead of keeping the others from being compared.
  const reference = answered.find((m) => m.id === leaderId)?.samples ?? answered[0]?.samples ?? [];
  const asked = answered.filter((m) => m.samples.some((s) => reference.some((r) => r.index === s.index)));
  if (asked.length < 2) return { kind: "no_common_index" };
  let common: number | null = null;
  for (const sample of asked[0]!.samples) {
    if (asked.every((m) => m.samples.some((s) => s.index === sample.index))) common = Math.max(common ?? 0, sample.index);
  }
  if (common === null) return { kind: "no_common_index" };
  const at = asked.map((m) => ({ id: m.id, sample: m.samples.find((s) => s.index === common)! }));
  const groups = new Map<string, number[]>();
  for (const { id, sample } of at) groups.set(sample.hash, [...(groups.get(sample.hash) ?? []), id]);
  if (groups.size === 1) return { kind: "agree", index: common, members: at.map((m) => m.id) };
  const largest = [...groups.values()].sort((a, b) => b.length - a.length)[0]!;
  const leaderHash = at.find((m) => m.id === leaderId)?.sample.hash;
  const trusted = 2 * largest.length > at.length ? largest : leaderHash === undefined ? [] : groups.get(leaderHash)!;
  const suspects = at.map((m) => m.id).filter((id) => !trusted.includes(id));
  const revision = at[0]!.sample.revision;
  return { kind: "diverged", index: common, revision, suspects, hashes: at.map((m) => ({ id: m.id, hash: m.sample.hash })) };
}

export interface CorruptionCheckContext {
  selfId: number;
  intervalMs: number;
  logger: ConsolaInstance;
  isLeader(): boolean;
  /** members: every member's id and HTTP address. */
  members(): { id: number; httpAddr: string }[];
  ownHashes(): HashSample[];
  memberHttp(): MemberHttp;
  alarms(): AlarmMember[];
  raise(memberId: number, alarm: AlarmType): Promise<unknown>;
  requestTimeoutMs: number;
}

/**
 * CorruptionCheck is etcd's periodic corruption check (--corrupt-check-interval): every interval the leader
 * asks each member for its recent state hashes (GET /hashes), compares them at the newest index they all hold,
 * and raises a CORRUPT alarm through the log naming each member whose hash differs; while it is raised every
 * write is refused. `qklzl check` stays for on-demand use. One round at a time; members that do not answer
 * are left out of that round (logged at debug).
 */
export class CorruptionCheck {
  private nextAt: number;
  private running = false;
  rounds = 0;

  constructor(private readonly context: CorruptionCheckContext) {
    this.nextAt = performance.now() + context.intervalMs;
  }

  tick(now: number = performance.now()): void {
    if (this.running || now < this.nextAt) return;
    this.nextAt = now + this.context.intervalMs;
    if (!this.context.isLeader()) return;
    this.running = true;
    this.round()
      .catch((error) => this.context.logger.warn(`corruption check failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        this.running = false;
      });
  }

  private async round(): Promise<void> {
    const { selfId, logger } = this.context;
    const members = this.context.members();
    const answers = await Promise.all(
      members.map(async (m): Promise<MemberHashes> => ({ id: m.id, samples: m.id === selfId ? this.context.ownHashes() : await this.fetchHashes(m.httpAddr) })),
    );
    this.rounds++;
    const silent = answers.filter((a) => a.samples === null).map((a) => a.id);
    if (silent.length > 0) logger.debug(`corruption check: no hashes from member ${silent.join(", ")} this round`);
    const verdict = judgeMemberHashes(selfId, answers);
    if (verdict.kind !== "diverged") return;
    const listing = verdict.hashes.map((h) => `${h.id}=${h.hash}`).join(" ");
    for (const suspect of verdict.suspects) {
      if (this.context.alarms().some((a) => a.alarm === "CORRUPT" && a.member_id === suspect)) continue;
      logger.error(`corruption check: member ${suspect}'s state differs at index ${verdict.index} (revision ${verdict.revision}): ${listing}; raising CORRUPT`);
      await this.context.raise(suspect, "CORRUPT");
    }
  }

  private async fetchHashes(httpAddr: string): Promise<HashSample[] | null> {
    const via = this.context.memberHttp();
    try {
      const response = await fetch(memberUrl(httpAddr, "/hashes", via), { ...memberFetchInit(via), signal: AbortSignal.timeout(this.context.requestTimeoutMs) });
      if (response.status !== 200) return null;
      const body = (await response.json()) as { samples?: unknown };
      if (!Array.isArray(body.samples)) return null;
      return body.samples.filter(
        (s): s is HashSample => typeof s === "object" && s !== null && Number.isSafeInteger(s.index) && Number.isSafeInteger(s.revision) && typeof s.hash === "string",
      );
    } catch {
      return null;
    }
  }
}
