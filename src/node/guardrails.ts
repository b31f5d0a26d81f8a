import type { ConsolaInstance } from "consola";
import type { KvRequest, KvStateMachine } from "../kv/index.ts";
import { NodeAlarms } from "./alarms.ts";
import type { StatusJson } from "./api.ts";
import { QklzlError } from "../shared/errors.ts";
import { postJson } from "./cluster_client.ts";
import { CorruptionCheck } from "./corruption_check.ts";
import { defaultQuotaBytes, Quota } from "./quota.ts";
import type { NodeRuntime } from "./runtime.ts";
import type { NodeOptions } from "./types.ts";

/**
 * Guardrails (issue 15): the replicated alarms, the NOSPACE quota and the periodic corruption check of one
 * node, built together so node.ts wires them with a few lines (admit before proposing, tick on the heartbeat
 * clock, their /status and /metrics parts).
 */
export class Guardrails {
  readonly quota: Quota;
  readonly alarms: NodeAlarms;
  readonly corruption: CorruptionCheck | null;

  constructor(rt: NodeRuntime, kv: KvStateMachine, options: NodeOptions, logger: ConsolaInstance) {
    const isLeader = () => rt.softState().role === "leader";
    const given = options.quotaBackendBytes ?? 0;
    const computed = given > 0 ? null : defaultQuotaBytes(options.dataDir);
    const quotaBytes = computed?.bytes ?? given;
    if (computed !== null) logger.info(`--quota-backend-bytes ${quotaBytes} (the default: ${computed.why})`);
    let alarms: NodeAlarms | null = null;
    const raiseThroughOthers = async () => {
      const others = rt.raftStatus().members.filter((m) => m.id !== options.id);
      for (const member of others) {
        const reply = await postJson(member.httpAddr, "/alarms/activate", { member_id: options.id, alarm: "NOSPACE" }, options.requestTimeoutMs, rt.memberHttp).catch(() => null);
        if (reply?.status === 200) {
          logger.warn(`NOSPACE raised for this node through node ${member.id} (this node's disk is full)`);
          return;
        }
      }
      throw new QklzlError("no_leader", "no other member raised NOSPACE for this node yet");
    };
    this.quota = new Quota({
      kv,
      selfId: options.id,
      quotaBytes,
      logger,
      isLeader,
      raiseNoSpace: () => alarms!.activate(options.id, "NOSPACE"),
      raiseThroughOthers,
    });
    alarms = new NodeAlarms({ kv, logger, propose: (request) => rt.proposeRequest(request), quota: this.quota });
    this.alarms = alarms;
    const interval = options.corruptCheckIntervalMs ?? 0;
    this.corruption =
      interval > 0
        ? new CorruptionCheck({
            selfId: options.id,
            intervalMs: interval,
            logger,
            isLeader,
            members: () => rt.raftStatus().members.map((m) => ({ id: m.id, httpAddr: m.httpAddr })),
            ownHashes: () => kv.recentHashes(),
            memberHttp: () => rt.memberHttp,
            alarms: () => kv.alarmList(),
            raise: (memberId, alarm) => this.alarms.activate(memberId, alarm),
            requestTimeoutMs: options.requestTimeoutMs,
          })
        : null;
  }

  /** diskFull: the disk guard's news (disk_full.ts): writes are refused here at once while it is full. */
  diskFull(full: boolean): void {
    this.quota.diskFull = full;
  }

  /** admit: the fast refusal of a write the alarms or the quota would refuse (see Quota.admit). */
  admit(request: KvRequest): void {
    this.quota.admit(request);
  }

  tick(): void {
    this.quota.tick();
    this.corruption?.tick();
  }

  status(): Partial<StatusJson> {
    return this.alarms.status();
  }

  metricLines(): string[] {
    return this.alarms.metricLines();
  }
}
