import { isUtf8 } from "node:buffer";
import {
  encodeRawPut,
  requestOf,
  encodeRequest,
  encodeUtf8Put,
  type Caller,
  validateCommand,
  validateKey,
  validateKvRequest,
  validateRange,
  validateValueBytes,
  type CommandLimits,
  type KeyValue,
  type KvCommand,
  type KvRequest,
  type KvResponse,
  type RangeRequest,
  type RangeResponse,
} from "../kv/index.ts";
import { type ErrorCode, QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type { AppliedRequest, Consistency, JoinRequest, JoinResponse, NodeApi } from "./api.ts";
import { describeReply, postJson } from "./cluster_client.ts";
import { joinIncarnationRefusal } from "./incarnation.ts";
import type { NodeRuntime } from "./runtime.ts";

/** request_id_chars_max bounds a client's request id (the dedup table keeps it in the replicated state). */
const request_id_chars_max = 128;

const utf8 = new TextDecoder();

function checkRequestId(requestId: string | undefined): void {
  if (requestId !== undefined && (requestId.length === 0 || requestId.length > request_id_chars_max)) {
    throw new QklzlError("bad_request", `request_id must be 1 to ${request_id_chars_max} characters`);
  }
}

/** answered: the applied answer of a kv request; a refusal decided at apply (the same on every replica; nothing changed) keeps its code. */
function answered(applied: { index: number; response?: KvResponse }): AppliedRequest {
  const response = applied.response;
  if (response === undefined) throw new QklzlError("internal", `the entry at index ${applied.index} applied without a kv answer`);
  if (response.kind === "error") throw new QklzlError(response.error.error as ErrorCode, response.error.message, response.error.details ?? {});
  return { index: applied.index, response };
}

/**
 * createNodeApi is the NodeApi the HTTP layer calls. It validates what the runtime does not know about (the
 * kv command, join requests) and asks the runtime the rest through its narrow surface.
 */
export function createNodeApi(rt: NodeRuntime, bounds: CommandLimits, admit: (request: KvRequest) => void = () => {}): NodeApi {
  /**
   * leaveThroughSuccessor: a leader asked to remove itself hands leadership to a caught-up voter first, then
   * asks it for the removal (no election gap); once that is acknowledged this node stops. False when no
   * successor took over: the leader then removes itself (the core steps it down after the commit).
   */
  const leaveThroughSuccessor = async (): Promise<boolean> => {
    await rt.handOver(2 * rt.options.electionMs, "before leaving the cluster");
    const soft = rt.softState();
    const leader = soft.leaderId === 0 || soft.leaderId === rt.options.id ? undefined : soft.membership.member(soft.leaderId);
    if (soft.role === "leader" || leader === undefined) return false;
    // A leader just elected refuses configuration changes (409 change_in_progress) until its first entry
    // commits, and there may be a moment with no leader (503): retry those within the request deadline.
    const deadline = performance.now() + rt.options.requestTimeoutMs;
    let reply = await postJson(leader.httpAddr, "/leave", { id: rt.options.id }, rt.options.requestTimeoutMs, rt.memberHttp);
    while ((reply.status === 409 || reply.status === 503) && performance.now() + 50 < deadline) {
      await Bun.sleep(50);
      reply = await postJson(leader.httpAddr, "/leave", { id: rt.options.id }, Math.max(1, deadline - performance.now()), rt.memberHttp);
    }
    if (reply.status !== 200) {
      throw new QklzlError("timeout", `leadership moved to node ${leader.id}, which did not confirm the removal: ${describeReply(reply)}`);
    }
    rt.logger.info(`left the cluster: node ${leader.id} leads and removed this node`);
    setTimeout(() => rt.reportRemoved(), 0);
    return true;
  };

  /** writeAs: a write with a caller (auth on), whose permission is checked in apply: its refusal is an error here. */
  const writeAs = async (data: Uint8Array): Promise<{ index: number }> => {
    const applied = await rt.propose(data);
    if (applied.response?.kind === "error") throw new QklzlError(applied.response.error.error as ErrorCode, applied.response.error.message, applied.response.error.details ?? {});
    return { index: applied.index };
  };

  const joinResponse = (): JoinResponse => ({ clusterId: rt.storage.meta.clusterId ?? "", members: rt.status().members });

  return {
    status: () => rt.status(),

    storeStats: () => rt.storeStats(),

    headerFacts: () => ({ cluster_id: rt.storage.meta.clusterId ?? "", node_id: rt.options.id, raft_term: rt.softState().term }),

    // Not async: POST /kv's put without a caller (auth off) goes straight to the proposal's promise, one async frame
    // less per put; a bad command is still a rejection.
    write(input: KvCommand, caller?: Caller): Promise<{ index: number }> {
      let data: Uint8Array;
      try {
        // One request object for the admission check and the entry (encodeCommand would build it again).
        const request = requestOf(validateCommand(input, bounds));
        // The alarms and the quota answer at once (no_space, corrupt) rather than propose what apply would refuse.
        admit(request);
        data = encodeRequest(request, undefined, caller);
      } catch (error) {
        return Promise.reject(error);
      }
      return caller === undefined ? rt.propose(data) : writeAs(data);
    },

    async putUtf8(key: string, value: Uint8Array, spare = 0, caller?: Caller): Promise<{ index: number }> {
      // write()'s checks in validateCommand's order; the value is UTF-8 already, so its size is its length.
      validateKey(key, bounds.maxKeyBytes);
      validateValueBytes(value, bounds.maxValueBytes);
      if (!isUtf8(value)) throw new QklzlError("bad_request", "value is not valid UTF-8");
      admit({ kind: "put", put: { key, value: "" } }); // the alarms and the quota look at the kind only
      if (caller === undefined) return rt.propose(encodeUtf8Put(key, value, spare));
      // With a caller (auth on) the entry is v3, which carries the value as a string.
      return writeAs(encodeRequest({ kind: "put", put: { key, value: utf8.decode(value) } }, undefined, caller));
    },

    async read(key: string, consistency: Consistency): Promise<{ value: string } | null> {
      return rt.read(validateKey(key, bounds.maxKeyBytes), consistency);
    },

    // Not async: GET /kv's read goes straight to the read round's promise; a bad key is still a rejection.
    readKv(key: string, consistency: Consistency): Promise<{ kv: KeyValue; revision: number } | null> {
      try {
        return rt.readKv(validateKey(key, bounds.maxKeyBytes), consistency);
      } catch (error) {
        return Promise.reject(error);
      }
    },

    leaseGrant: async (ttl, id) => {
      admit({ kind: "lease_grant", lease_grant: { id: id ?? 1, ttl: Math.max(1, Math.floor(ttl)) } });
      return rt.leases.grant(ttl, id);
    },
    leaseRevoke: (id) => rt.leases.revoke(id),
    leaseKeepAlive: (id) => rt.leases.keepAlive(id),
    leaseTimeToLive: (id, keys) => rt.leases.timeToLive(id, keys),
    leaseList: () => rt.leases.list(),

    async range(request: RangeRequest, consistency: Consistency): Promise<RangeResponse> {
      return rt.range(validateRange(request, bounds), consistency);
    },

    async kvRequest(request: KvRequest, requestId?: string, caller?: Caller): Promise<AppliedRequest> {
      checkRequestId(requestId);
      const valid = validateKvRequest(request, bounds);
      // The alarms and the quota answer at once (no_space, corrupt) rather than propose what apply would refuse.
      admit(valid);
      return answered(caller === undefined ? await rt.proposeRequest(valid, requestId) : await rt.propose(encodeRequest(valid, requestId, caller)));
    },

    async putBytes(key: string, value: Uint8Array, requestId?: string, caller?: Caller): Promise<AppliedRequest> {
      checkRequestId(requestId);
      validateKey(key, bounds.maxKeyBytes);
      if (value.length > bounds.maxValueBytes) {
        throw new QklzlError("too_large", `value of ${value.length} bytes is over the limit of ${bounds.maxValueBytes} bytes`, { limit_bytes: bounds.maxValueBytes });
      }
      // The store's values are strings: bytes that are not UTF-8 would not read back as they were sent.
      if (!isUtf8(value)) throw new QklzlError("bad_request", "value is not valid UTF-8");
      admit({ kind: "put", put: { key, value: "" } }); // the alarms and the quota look at the kind only
      // With a caller (auth on) the entry must be v3, which carries the value as a string.
      const data = caller === undefined ? encodeRawPut(key, value, requestId) : encodeRequest({ kind: "put", put: { key, value: utf8.decode(value) } }, requestId, caller);
      return answered(await rt.propose(data));
    },

    async join(request: JoinRequest): Promise<JoinResponse> {
      rt.ensureLeader();
      if (!Number.isSafeInteger(request.id) || request.id <= 0) throw new QklzlError("bad_request", "id must be a positive integer");
      if (request.raftAddr === "" || request.httpAddr === "") throw new QklzlError("bad_request", "raft_addr and http_addr are required");
      const existing = rt.softState().membership.member(request.id);
      const addrs = { raftAddr: request.raftAddr, httpAddr: request.httpAddr };
      const incarnation = request.incarnation ? { incarnation: request.incarnation } : {};
      if (existing !== undefined) {
        const refusal = joinIncarnationRefusal(existing, request);
        if (refusal !== null) {
          rt.logger.warn(`join of node ${request.id} refused: ${refusal.message}`);
          throw refusal;
        }
        // A member recorded before incarnations existed gets the one its (same, not wiped) directory now has.
        const recordIncarnation = existing.incarnation === undefined && incarnation.incarnation !== undefined;
        if (existing.raftAddr === addrs.raftAddr && existing.httpAddr === addrs.httpAddr && !recordIncarnation) return joinResponse();
        await rt.proposeConf({ type: "update_addr", id: request.id, ...addrs, ...incarnation }, `the address update of node ${request.id}`);
        return joinResponse();
      }
      const clash = rt.raftStatus().members.find((m) => m.raftAddr === addrs.raftAddr || m.httpAddr === addrs.httpAddr);
      if (clash !== undefined) {
        throw new QklzlError("bad_request", `node ${clash.id} already uses raft ${clash.raftAddr} / http ${clash.httpAddr}`);
      }
      if (rt.raftStatus().members.length >= limits.members_max) {
        throw new QklzlError("bad_request", `the cluster already has ${limits.members_max} members (the maximum)`);
      }
      await rt.proposeConf({ type: "add_learner", id: request.id, ...addrs, ...incarnation }, `the join of node ${request.id}`);
      rt.logger.info(`join: node ${request.id} added as learner (raft ${addrs.raftAddr}, http ${addrs.httpAddr}); promoted once caught up`);
      return joinResponse();
    },

    async leave(id: number): Promise<void> {
      rt.ensureLeader();
      const member = rt.softState().membership.member(id);
      if (member === undefined) throw new QklzlError("unknown_member", `node ${id} is not a member`);
      if (id === rt.options.id && (await leaveThroughSuccessor())) return;
      // The removal names the incarnation it removes: a later incarnation replaying it knows it is history.
      const incarnation = member.incarnation === undefined ? {} : { incarnation: member.incarnation };
      await rt.proposeConf({ type: "remove", id, raftAddr: member.raftAddr, httpAddr: member.httpAddr, ...incarnation }, `the removal of node ${id}`);
    },

    async transferLeader(id: number): Promise<void> {
      rt.ensureLeader();
      const member = rt.softState().membership.member(id);
      if (member === undefined || member.role !== "voter") throw new QklzlError("unknown_member", `node ${id} is not a voting member`);
      if (id === rt.options.id) return;
      await rt.transferLeader(id);
    },

    snapshot: () => rt.snapshot(),

    metricsText: () => rt.metricsText(),

    isReady: () => rt.isReady(),
  };
}
