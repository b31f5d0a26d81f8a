import { QklzlError } from "../shared/errors.ts";
import type { AlarmMember, AlarmRequest, AlarmType, KvRequest } from "./mvcc_types.ts";

const alarm_hash_seed = 0x616c726dn; // "alrm"

/** alarm_types: etcd's AlarmType names (rpc.proto AlarmType, without NONE), the order of etcd's enum. */
export const alarm_types: readonly AlarmType[] = ["NOSPACE", "CORRUPT"];

/** alarms_max bounds the table: one alarm of each type per member is all it can hold (members_max is 64 or less). */
export const alarms_max = 2 * 256;

/**
 * AlarmTable is the replicated set of raised alarms (etcd's alarm store, server/etcdserver/api/v3alarm): each
 * is a (member id, type) pair, raised and disarmed through the log so every replica holds the same set and
 * refuses the same writes at apply. While NOSPACE is raised, anything that makes the store bigger is refused
 * (puts, txns with a put, lease grants); while CORRUPT is raised, every write is refused (etcd's
 * applierV3Corrupt). Reads, and with NOSPACE deletes, compaction and revokes, still work, so an operator can
 * make room and disarm.
 */
export class AlarmTable {
  private readonly raised = new Map<string, AlarmMember>();
  private hash = 0n;

  get size(): number {
    return this.raised.size;
  }

  /** contentHash: XOR of every raised alarm, in the state machine's hash so replicas compare it too. */
  get contentHash(): bigint {
    return this.hash;
  }

  /** has: an alarm of `type` is raised for some member. */
  has(type: AlarmType): boolean {
    for (const alarm of this.raised.values()) if (alarm.alarm === type) return true;
    return false;
  }

  /** records: the raised alarms, by member id then type (the order every replica prints). */
  records(): AlarmMember[] {
    return [...this.raised.values()].sort((a, b) => a.member_id - b.member_id || alarm_types.indexOf(a.alarm) - alarm_types.indexOf(b.alarm));
  }

  /**
   * apply raises or disarms one alarm and answers the alarms it touched (etcd's AlarmResponse): the one raised
   * (also when it was already), the one disarmed, nothing for a disarm of an alarm that is not raised. A
   * disarm with member 0 disarms that type on every member (what `alarm disarm` sends for each listed one).
   */
  apply(request: AlarmRequest): AlarmMember[] {
    if (request.action === "activate") {
      const alarm = { member_id: request.member_id, alarm: request.alarm };
      if (this.raised.size >= alarms_max && !this.raised.has(alarmKey(alarm))) return [];
      if (!this.raised.has(alarmKey(alarm))) {
        this.raised.set(alarmKey(alarm), alarm);
        this.hash ^= alarmHash(alarm);
      }
      return [alarm];
    }
    const gone: AlarmMember[] = [];
    for (const [key, alarm] of this.raised) {
      if (alarm.alarm !== request.alarm || (request.member_id !== 0 && alarm.member_id !== request.member_id)) continue;
      this.raised.delete(key);
      this.hash ^= alarmHash(alarm);
      gone.push(alarm);
    }
    return gone;
  }

  /**
   * refusal: the error a request gets at apply while an alarm forbids it, or null. Deterministic (the table is
   * replicated), so every replica refuses the same entries and none changes anything for them.
   */
  refusal(request: KvRequest): QklzlError | null {
    if (this.raised.size === 0 || request.kind === "alarm") return null;
    if (this.has("CORRUPT")) return corruptError(this.membersWith("CORRUPT"));
    if (this.has("NOSPACE") && growsStore(request)) return noSpaceError(this.membersWith("NOSPACE"));
    return null;
  }

  private membersWith(type: AlarmType): number[] {
    return this.records().filter((alarm) => alarm.alarm === type).map((alarm) => alarm.member_id);
  }

  /** restore: a table holding exactly `alarms` (from a snapshot image). */
  static restore(alarms: readonly AlarmMember[]): AlarmTable {
    const table = new AlarmTable();
    for (const alarm of alarms) table.apply({ action: "activate", member_id: alarm.member_id, alarm: alarm.alarm });
    if (table.size !== alarms.length) throw new Error(`${alarms.length} alarms listed, ${table.size} distinct`);
    return table;
  }
}

/** growsStore: what NOSPACE refuses (etcd's quota applier: Put, Txn with a put, LeaseGrant). */
export function growsStore(request: KvRequest): boolean {
  if (request.kind === "put" || request.kind === "lease_grant") return true;
  return request.kind === "txn" && txnHasPut(request.txn);
}

function txnHasPut(txn: Extract<KvRequest, { kind: "txn" }>["txn"]): boolean {
  for (const op of [...txn.success, ...txn.failure]) {
    if ("put" in op) return true;
    if ("txn" in op && txnHasPut(op.txn)) return true;
  }
  return false;
}

/** noSpaceError: etcd's ErrNoSpace, naming the members whose NOSPACE alarm is raised. */
export function noSpaceError(members: number[]): QklzlError {
  const who = members.length === 0 ? "" : ` (NOSPACE raised for member ${members.join(", ")})`;
  return new QklzlError("no_space", `database space exceeded${who}: delete keys, compact, then disarm the alarm (qklzl alarm disarm)`, {
    alarm: "NOSPACE",
    members,
  });
}

/** corruptError: etcd's ErrCorrupt, naming the members whose state diverged. */
export function corruptError(members: number[]): QklzlError {
  return new QklzlError("corrupt", `the cluster is corrupt: member ${members.join(", ")} diverged from the others; writes are refused until the alarm is disarmed`, {
    alarm: "CORRUPT",
    members,
  });
}

function alarmKey(alarm: AlarmMember): string {
  return `${alarm.member_id}:${alarm.alarm}`;
}

function alarmHash(alarm: AlarmMember): bigint {
  return Bun.hash.wyhash(alarmKey(alarm), alarm_hash_seed);
}
