import { Metadata, type ServerWritableStream } from "@grpc/grpc-js";
import type { AlarmMember } from "../../kv/mvcc_types.ts";
import type { EtcdBackend } from "./backend.ts";
import type { Msg } from "./codec.ts";
import { EtcdError } from "./errors.ts";
import { etcdMemberId, nodeIdOf, parseUint64 } from "./ids.ts";
import { header, log, unary } from "./rpc.ts";
import { streamSnapshot } from "./snapshot_stream.ts";

/**
 * etcd_version is the server version Status reports: the protocol level qklzl speaks (etcd v3.5's API), which
 * etcdctl and clients read to decide which calls they may use.
 */
export const etcd_version = "3.5.0";

/** hash32: etcd's Hash is a uint32; qklzl's store hash is 64-bit, so its low 32 bits. */
function hash32(hex: string): number {
  return Number(BigInt(`0x${hex}`) & 0xffffffffn);
}

/**
 * alarmCall serves Maintenance.Alarm as etcd does (v3rpc/maintenance.go, etcdserver.Alarm): GET lists every
 * raised alarm; ACTIVATE / DEACTIVATE raise or disarm one (memberID + alarm) through the log and answer the
 * alarms changed. `etcdctl alarm disarm` lists first, then sends one DEACTIVATE per alarm it got.
 */
async function alarmCall(backend: EtcdBackend, m: Msg): Promise<Msg> {
  const info = backend.info();
  const asEtcd = (alarms: AlarmMember[]) => alarms.map((a) => ({ memberID: etcdMemberId(info.cluster_id, a.member_id).toString(), alarm: a.alarm }));
  const action = m.action ?? "GET";
  if (action === "GET") return { header: header(backend), alarms: asEtcd(backend.alarms()) };
  if (action !== "ACTIVATE" && action !== "DEACTIVATE") throw new EtcdError("bad_request", `unknown alarm action ${String(action)}`);
  const type = m.alarm ?? "NONE";
  if (type !== "NOSPACE" && type !== "CORRUPT") throw new EtcdError("bad_request", `alarm type ${String(type)} is not NOSPACE or CORRUPT`);
  const id = parseUint64(m.memberID);
  const nodeIds = info.members.map((member) => member.node_id);
  const nodeId = id === null ? null : nodeIdOf(info.cluster_id, id, nodeIds);
  if (nodeId === null) throw new EtcdError("unknown_member", `no member has id ${String(m.memberID)}`);
  const changed = await backend.alarm(action === "ACTIVATE" ? "activate" : "deactivate", nodeId, type);
  return { header: header(backend), alarms: asEtcd(changed) };
}

export function maintenanceService(backend: EtcdBackend) {
  return {
    Status: unary("Maintenance/Status", () => {
      const info = backend.info();
      return {
        header: header(backend),
        version: etcd_version,
        dbSize: info.db_size,
        leader: info.leader_node_id === 0 ? "0" : etcdMemberId(info.cluster_id, info.leader_node_id).toString(),
        raftIndex: info.raft_index,
        raftTerm: info.raft_term,
        raftAppliedIndex: info.raft_applied_index,
        errors: [],
        dbSizeInUse: info.db_size,
        isLearner: info.is_learner,
      };
    }),
    Alarm: unary("Maintenance/Alarm", async (m) => alarmCall(backend, m)),
    Defragment: (call: { sendMetadata(m: Metadata): void }, callback: (e: null, r: Msg) => void) => {
      log.info("defragment requested: a no-op, qklzl's store is in memory and its log is compacted by snapshots");
      const metadata = new Metadata();
      metadata.set("qklzl-note", "defragment is a no-op: the store is in memory and the log is compacted by snapshots");
      call.sendMetadata(metadata);
      callback(null, { header: header(backend) });
    },
    Hash: unary("Maintenance/Hash", () => ({ header: header(backend), hash: hash32(backend.info().kv_hash) })),
    HashKV: unary("Maintenance/HashKV", async (m) => {
      const revision = Number(m.revision ?? 0);
      const result = await backend.hashKV(Number.isSafeInteger(revision) ? revision : -1);
      return { header: header(backend, result.hash_revision || undefined), hash: hash32(result.hash), compact_revision: result.compact_revision };
    }),
    MoveLeader: unary("Maintenance/MoveLeader", async (m) => {
      const info = backend.info();
      const id = parseUint64(m.targetID);
      const voters = info.members.filter((member) => !member.is_learner).map((member) => member.node_id);
      const nodeId = id === null ? null : nodeIdOf(info.cluster_id, id, voters);
      if (nodeId === null) throw new EtcdError("bad_leader_transferee", `no voting member has id ${String(m.targetID)}`);
      await backend.transferLeader(nodeId);
      return { header: header(backend) };
    }),
    Snapshot: (call: ServerWritableStream<Msg, Msg>) => void streamSnapshot(backend, call),
  };
}
