import { encodeCommand, validateCommand, validateKey, type CommandLimits, type KeyValue, type KvCommand } from "../kv/index.ts";
import type { ConfChange, ProposeResult } from "../raft/types.ts";
import { QklzlError } from "../shared/errors.ts";
import { limits } from "../shared/limits.ts";
import type { Consistency, JoinRequest, JoinResponse, NodeApi } from "./api.ts";
import { describeReply, postJson } from "./cluster_client.ts";
import type { NodeRuntime } from "./runtime.ts";

/** createNodeApi is the NodeApi the HTTP layer calls: fast refusals first, then the log, then the wait. */
export function createNodeApi(rt: NodeRuntime, bounds: CommandLimits): NodeApi {
  const refusal = (result: Extract<ProposeResult, { ok: false }>, what: string): QklzlError => {
    switch (result.error) {
      case "not_leader":
      case "no_leader":
        return rt.notLeaderError();
      case "change_in_progress":
        return new QklzlError("change_in_progress", `another membership change is in progress; ${what} was not queued, retry once it completes`);
      case "transfer_in_progress":
        return new QklzlError("transfer_in_progress", `a leadership transfer is in progress; ${what} was refused, retry shortly`);
      case "too_many_uncommitted":
        return new QklzlError("no_quorum", `too many uncommitted entries (followers are not keeping up); ${what} was refused`);
      case "bad_change":
        return new QklzlError("bad_request", `${what} does not apply to the current configuration`);
    }
  };

  const checkPending = () => {
    if (rt.proposals.size >= limits.pending_requests_max) {
      rt.metrics.proposalsRefused++;
      throw new QklzlError("no_quorum", `too many requests pending (${rt.proposals.size}); retry later`);
    }
  };

  const proposeChange = async (change: ConfChange, what: string): Promise<void> => {
    rt.ensureLeader();
    checkPending();
    const result = rt.core.proposeConfChange(change);
    if (!result.ok) throw refusal(result, what);
    rt.wake();
    await rt.proposals.wait(result.index, result.term);
  };

  /**
   * leaveThroughSuccessor: a leader asked to remove itself hands leadership to a caught-up voter first, then
   * asks it for the removal (no election gap); once that is acknowledged this node stops. False when no
   * successor took over: the leader then removes itself (the core steps it down after the commit).
   */
  const leaveThroughSuccessor = async (): Promise<boolean> => {
    await rt.handOver(2 * rt.options.electionMs, "before leaving the cluster");
    const leader = rt.core.leaderId === 0 || rt.core.leaderId === rt.options.id ? undefined : rt.memberById(rt.core.leaderId);
    if (rt.core.role === "leader" || leader === undefined) return false;
    // A leader just elected refuses configuration changes (409 change_in_progress) until its first entry
    // commits, and there may be a moment with no leader (503): retry those within the request deadline.
    const deadline = performance.now() + rt.options.requestTimeoutMs;
    let reply = await postJson(leader.httpAddr, "/leave", { id: rt.options.id }, rt.options.requestTimeoutMs);
    while ((reply.status === 409 || reply.status === 503) && performance.now() + 50 < deadline) {
      await Bun.sleep(50);
      reply = await postJson(leader.httpAddr, "/leave", { id: rt.options.id }, Math.max(1, deadline - performance.now()));
    }
    if (reply.status !== 200) {
      throw new QklzlError("timeout", `leadership moved to node ${leader.id}, which did not confirm the removal: ${describeReply(reply)}`);
    }
    rt.log.info(`left the cluster: node ${leader.id} leads and removed this node`);
    setTimeout(() => rt.onRemoved(), 0);
    return true;
  };

  const joinResponse = (): JoinResponse => ({ clusterId: rt.storage.meta.clusterId ?? "", members: rt.status().members });

  /** linearizable: a ReadIndex read of `key` (the node confirms the leader's commit index, waits for its apply). */
  const linearizable = async (key: string): Promise<{ value: string } | null> => {
    if (rt.core.leaderId === 0) throw rt.noLeaderError();
    if (rt.core.role === "leader" && !rt.quorumReachable()) {
      throw new QklzlError("no_quorum", `node ${rt.options.id} leads but cannot reach a majority of the voters`);
    }
    return rt.reads.read(key);
  };

  return {
    status: () => {
      rt.ensureStarted();
      return rt.status();
    },

    async write(input: KvCommand): Promise<{ index: number }> {
      try {
        rt.ensureLeader();
      } catch (error) {
        rt.metrics.proposalsRefused++;
        throw error;
      }
      const command = validateCommand(input, bounds);
      checkPending();
      const result = rt.core.propose(encodeCommand(command));
      if (!result.ok) {
        rt.metrics.proposalsRefused++;
        throw refusal(result, "the write");
      }
      rt.metrics.proposals++;
      rt.wake();
      try {
        return await rt.proposals.wait(result.index, result.term);
      } catch (error) {
        rt.metrics.proposalsFailed++;
        throw error;
      }
    },

    async read(key: string, consistency: Consistency): Promise<{ value: string } | null> {
      rt.ensureRunning();
      validateKey(key, bounds);
      if (consistency === "stale") {
        rt.metrics.readsStale++;
        const value = rt.kv.get(key);
        return value === undefined ? null : { value };
      }
      const answer = await linearizable(key);
      rt.metrics.readsLinearizable++;
      return answer;
    },

    async readKv(key: string, consistency: Consistency): Promise<{ kv: KeyValue; revision: number } | null> {
      rt.ensureRunning();
      validateKey(key, bounds);
      if (consistency === "stale") rt.metrics.readsStale++;
      else {
        // Once the read index is applied, any later state is as good (it is still committed): the kv and the
        // revision are taken together, synchronously, when the read resolves.
        await linearizable(key);
        rt.metrics.readsLinearizable++;
      }
      const kv = rt.kv.getKv(key);
      return kv === null ? null : { kv, revision: rt.kv.revision };
    },

    async join(request: JoinRequest): Promise<JoinResponse> {
      rt.ensureLeader();
      if (!Number.isSafeInteger(request.id) || request.id <= 0) throw new QklzlError("bad_request", "id must be a positive integer");
      if (request.raftAddr === "" || request.httpAddr === "") throw new QklzlError("bad_request", "raft_addr and http_addr are required");
      const existing = rt.memberById(request.id);
      const addrs = { raftAddr: request.raftAddr, httpAddr: request.httpAddr };
      if (existing !== undefined) {
        if (existing.raftAddr === addrs.raftAddr && existing.httpAddr === addrs.httpAddr) return joinResponse();
        await proposeChange({ type: "update_addr", id: request.id, ...addrs }, `the address update of node ${request.id}`);
        return joinResponse();
      }
      const clash = rt.core.status().members.find((m) => m.raftAddr === addrs.raftAddr || m.httpAddr === addrs.httpAddr);
      if (clash !== undefined) {
        throw new QklzlError("bad_request", `node ${clash.id} already uses raft ${clash.raftAddr} / http ${clash.httpAddr}`);
      }
      if (rt.core.status().members.length >= limits.members_max) {
        throw new QklzlError("bad_request", `the cluster already has ${limits.members_max} members (the maximum)`);
      }
      await proposeChange({ type: "add_learner", id: request.id, ...addrs }, `the join of node ${request.id}`);
      rt.log.info(`join: node ${request.id} added as learner (raft ${addrs.raftAddr}, http ${addrs.httpAddr}); promoted once caught up`);
      return joinResponse();
    },

    async leave(id: number): Promise<void> {
      rt.ensureLeader();
      const member = rt.memberById(id);
      if (member === undefined) throw new QklzlError("unknown_member", `node ${id} is not a member`);
      if (id === rt.options.id && (await leaveThroughSuccessor())) return;
      await proposeChange({ type: "remove", id, raftAddr: member.raftAddr, httpAddr: member.httpAddr }, `the removal of node ${id}`);
    },

    async transferLeader(id: number): Promise<void> {
      rt.ensureLeader();
      const member = rt.memberById(id);
      if (member === undefined || member.role !== "voter") throw new QklzlError("unknown_member", `node ${id} is not a voting member`);
      if (id === rt.options.id) return;
      const result = rt.core.transferLeadership(id);
      if (!result.ok) {
        if (result.error === "transfer_in_progress") throw new QklzlError("transfer_in_progress", "another leadership transfer is in progress");
        if (result.error === "unknown_member") throw new QklzlError("unknown_member", `node ${id} is not a voting member`);
        throw rt.notLeaderError();
      }
      rt.wake();
      rt.log.info(`transferring leadership to node ${id}`);
      await rt.waitForLeader(id, 2 * rt.options.electionMs + rt.options.heartbeatMs * 5);
    },

    snapshot: () => {
      rt.ensureRunning();
      return rt.snapshotter.take();
    },

    metricsText: () => {
      rt.ensureStarted();
      return rt.metricsText();
    },

    isReady: () => rt.isReady(),
  };
}
