import type { ConsolaInstance } from "consola";
import { alarm_types } from "../kv/alarms.ts";
import type { AlarmMember, AlarmRequest, AlarmType, KvStateMachine } from "../kv/index.ts";
import type { HashSample } from "../kv/hash_samples.ts";
import { QklzlError } from "../shared/errors.ts";
import type { AlarmApi, StatusJson } from "./api.ts";
import type { Applied } from "./proposals.ts";
import type { Quota } from "./quota.ts";

export interface NodeAlarmsContext {
  kv: KvStateMachine;
  logger: ConsolaInstance;
  /** propose: the runtime's proposeRequest (leader only; not_leader elsewhere). */
  propose(request: { kind: "alarm"; alarm: AlarmRequest }): Promise<Applied>;
  quota: Quota;
}

/**
 * NodeAlarms is the node's side of the replicated alarms (kv/alarms.ts): the AlarmApi the HTTP routes and the
 * gRPC Maintenance.Alarm call, the log line every member writes when one is raised or disarmed, and the
 * alarms' part of /status and /metrics.
 */
export class NodeAlarms implements AlarmApi {
  constructor(private readonly context: NodeAlarmsContext) {
    context.kv.onAlarm = (index, request, changed) => {
      const what = changed.map((alarm) => `${alarm.alarm} for member ${alarm.member_id}`).join(", ");
      if (request.action === "activate") context.logger.warn(`alarm raised at index ${index}: ${what}; ${consequence(request.alarm)}`);
      else if (changed.length > 0) context.logger.info(`alarm disarmed at index ${index}: ${what}`);
    };
  }

  list(): AlarmMember[] {
    return this.context.kv.alarmList();
  }

  async activate(memberId: number, alarm: AlarmType): Promise<AlarmMember[]> {
    return this.apply({ action: "activate", member_id: memberId, alarm });
  }

  /** disarm proposes one deactivate per matching raised alarm (as `etcdctl alarm disarm` does). */
  async disarm(filter: { memberId?: number; alarm?: AlarmType }): Promise<AlarmMember[]> {
    const matching = this.list().filter((a) => (filter.memberId === undefined || a.member_id === filter.memberId) && (filter.alarm === undefined || a.alarm === filter.alarm));
    const disarmed: AlarmMember[] = [];
    for (const alarm of matching) disarmed.push(...(await this.apply({ action: "deactivate", member_id: alarm.member_id, alarm: alarm.alarm })));
    return disarmed;
  }

  hashes(): HashSample[] {
    return this.context.kv.recentHashes();
  }

  private async apply(request: AlarmRequest): Promise<AlarmMember[]> {
    const applied = await this.context.propose({ kind: "alarm", alarm: request });
    const response = applied.response;
    if (response?.kind !== "alarm") throw new QklzlError("internal", `the alarm entry at index ${applied.index} applied without an alarm answer`);
    return response.alarm.alarms;
  }

  status(): Partial<StatusJson> {
    const { quota } = this.context;
    return { alarms: this.list(), store_bytes: quota.storeBytes(), quota_backend_bytes: quota.quotaBytes, disk_full: quota.diskFull };
  }

  metricLines(): string[] {
    const { quota } = this.context;
    const raised = this.list();
    const lines = [
      "# HELP qklzl_alarm_active Raised alarms by type (etcd's NOSPACE, CORRUPT), from this member's applied state.",
      "# TYPE qklzl_alarm_active gauge",
      ...alarm_types.map((type) => `qklzl_alarm_active{type="${type}"} ${raised.filter((a) => a.alarm === type).length}`),
      "# HELP qklzl_alarm One line per raised alarm: the member it names and its type.",
      "# TYPE qklzl_alarm gauge",
      ...raised.map((a) => `qklzl_alarm{member="${a.member_id}",type="${a.alarm}"} 1`),
      "# HELP qklzl_store_bytes The MVCC store's size measured against the quota (arena bytes of every kept record).",
      "# TYPE qklzl_store_bytes gauge",
      `qklzl_store_bytes ${quota.storeBytes()}`,
      "# HELP qklzl_quota_backend_bytes --quota-backend-bytes: past it the leader raises NOSPACE.",
      "# TYPE qklzl_quota_backend_bytes gauge",
      `qklzl_quota_backend_bytes ${quota.quotaBytes}`,
      "# HELP qklzl_disk_full 1 while this node's last WAL or snapshot write failed with ENOSPC.",
      "# TYPE qklzl_disk_full gauge",
      `qklzl_disk_full ${quota.diskFull ? 1 : 0}`,
    ];
    return lines;
  }
}

function consequence(alarm: AlarmType): string {
  return alarm === "NOSPACE"
    ? "puts, txns with a put and lease grants are refused (no_space) until it is disarmed; reads, deletes and compaction still work"
    : "every write is refused (corrupt) until it is disarmed; compare the members with qklzl check";
}
