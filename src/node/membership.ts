import type { NodeId } from "../raft/types.ts";
import { QklzlError } from "../shared/errors.ts";
import { describeReply, fetchStatus, postJson } from "./cluster_client.ts";
import type { NodeRuntime } from "./runtime.ts";

/** A learner within this many entries of the leader's commit index counts as caught up (it is then promoted). */
const promote_lag_entries_max = 100;

export interface MembershipOptions {
  /** designatedLeader: started with -bootstrap on existing state; take leadership once caught up. */
  designatedLeader: boolean;
  /** joinAddr: the -join address (any member's HTTP address), or null. */
  joinAddr: string | null;
}

/**
 * MembershipTasks are the background duties around the configuration, run on the heartbeat clock:
 * joining through a member, promoting caught-up learners (leader), claiming leadership as the designated
 * leader, asking for an address update after a restart on new addresses, learning peers' addresses, and
 * noticing that this node was removed while it was cut off from the leader.
 */
export class MembershipTasks {
  private designatedDone: boolean;
  private busy = new Set<string>();
  private nextAt = new Map<string, number>();
  private wasMember = false;

  constructor(
    private readonly rt: NodeRuntime,
    private readonly options: MembershipOptions,
  ) {
    this.designatedDone = !options.designatedLeader;
    // A node restarted from disk was a member even when its log ends with its own removal (committed or not):
    // the removal check below must then ask the leader, or it waits forever for a leader that never comes.
    this.wasMember = rt.storage.log.lastIndex() > 0;
  }

  private get timeoutMs(): number {
    return Math.min(this.rt.options.requestTimeoutMs, 5_000);
  }

  tick(): void {
    if (this.rt.stopping) return;
    const soft = this.rt.softState();
    if (soft.membership.has(this.rt.options.id)) this.wasMember = true;
    if (soft.role === "leader") this.promoteCaughtUpLearners();
    if (!this.designatedDone) this.claimLeadership();
    this.updateOwnAddress();
    this.checkRemoved();
  }

  /** run starts `task` unless it is running or its next attempt is not due; `task` returns the delay to the next. */
  private run(name: string, task: () => Promise<number>): void {
    const now = performance.now();
    if (this.busy.has(name) || now < (this.nextAt.get(name) ?? 0)) return;
    this.busy.add(name);
    task()
      .then((delayMs) => this.nextAt.set(name, performance.now() + delayMs))
      .catch((error) => {
        this.rt.logger.warn(`${name}: ${String(error)}`);
        this.nextAt.set(name, performance.now() + this.rt.options.electionMs);
      })
      .finally(() => this.busy.delete(name));
  }

  /** joinCluster asks the cluster (through any member) to add this node, retrying with backoff. */
  async joinCluster(addr: string): Promise<void> {
    const rt = this.rt;
    let delayMs = 100;
    const request = { id: rt.options.id, raft_addr: rt.raftAddr, http_addr: rt.httpAddr, incarnation: rt.storage.meta.incarnation, fresh: true };
    rt.logger.info(`joining through ${addr} as node ${rt.options.id} (raft ${rt.raftAddr}, http ${rt.httpAddr})`);
    while (!rt.stopping) {
      try {
        const reply = await postJson(addr, "/join", request, rt.options.requestTimeoutMs, rt.memberHttp);
        const clusterId = reply.body?.cluster_id;
        if (reply.status === 200 && typeof clusterId === "string") {
          await rt.storage.setClusterId(clusterId);
          const members = Array.isArray(reply.body?.members) ? (reply.body.members as Array<Record<string, unknown>>) : [];
          for (const m of members) {
            if (typeof m.id === "number" && typeof m.raft_addr === "string") rt.setPeer(m.id, m.raft_addr);
          }
          // Still a learner: "joined as voter" is logged (cluster_health.ts) once the promotion is applied.
          rt.logger.success(
            `joined cluster ${clusterId} through ${addr} as a learner; members ${members.map((m) => String(m.id)).join(",")}; a voter once caught up`,
          );
          return;
        }
        if (reply.status === 400 || reply.status === 413 || reply.body?.error === "incarnation_mismatch") {
          const code = reply.body?.error === "incarnation_mismatch" ? "incarnation_mismatch" : "bad_request";
          throw new QklzlError(code, `join through ${addr} refused: ${describeReply(reply)}`);
        }
        rt.logger.warn(`join through ${addr}: ${describeReply(reply)}; retrying in ${delayMs} ms`);
      } catch (error) {
        if (error instanceof QklzlError) throw error;
        rt.logger.warn(`join through ${addr} failed: ${error instanceof Error ? error.message : String(error)}; retrying in ${delayMs} ms`);
      }
      await Bun.sleep(delayMs);
      delayMs = Math.min(delayMs * 2, 5_000);
    }
  }

  /**
   * promoteCaughtUpLearners: leader side of join. Learners are promoted back to back, every tick, so a cluster
   * formed by starting its nodes together has all its voters (and its fault tolerance) within a few heartbeats.
   * Safe because it is one change at a time: the core refuses a proposal while an earlier configuration
   * change is uncommitted (change_in_progress), so the next promotion waits until the last one committed.
   * Only a learner that answered recently and is within promote_lag_entries_max of the commit index is promoted.
   */
  private promoteCaughtUpLearners(): void {
    const rt = this.rt;
    const status = rt.raftStatus();
    for (const m of status.members) {
      if (m.role !== "learner" || m.matchIndex === 0 || m.matchIndex + promote_lag_entries_max < status.commit) continue;
      if (!rt.recentlyHeard(m.id)) continue;
      const appended = rt.offerConf({ type: "promote", id: m.id, raftAddr: m.raftAddr, httpAddr: m.httpAddr });
      if (appended) rt.logger.info(`promoting learner ${m.id} to voter (match ${m.matchIndex}, commit ${status.commit})`);
      return;
    }
  }

  /** claimLeadership: the designated leader asks the current leader for a transfer once it is caught up. */
  private claimLeadership(): void {
    const rt = this.rt;
    const soft = rt.softState();
    if (soft.role === "leader") {
      this.designatedDone = true;
      rt.logger.info("designated leader: this node leads");
      return;
    }
    const leaderId = soft.leaderId;
    // Caught up within the promotion lag: under writes the commit index keeps moving, and the transfer
    // itself brings the target fully up to date before TimeoutNow.
    const behind = rt.raftStatus().commit - rt.appliedIndex;
    if (leaderId === 0 || !soft.membership.isVoter(rt.options.id) || behind > promote_lag_entries_max) return;
    const leader = soft.membership.member(leaderId);
    if (leader === undefined || leader.httpAddr === "") return;
    this.run("designated leader", async () => {
      rt.logger.info(`designated leader: asking node ${leaderId} to transfer leadership to this node`);
      const reply = await postJson(leader.httpAddr, "/transfer-leader", { id: rt.options.id }, this.timeoutMs, this.rt.memberHttp);
      if (reply.status !== 200) rt.logger.warn(`designated leader: transfer refused: ${describeReply(reply)}`);
      return 2 * rt.options.electionMs;
    });
  }

  /** updateOwnAddress: after a restart on other addresses, ask the leader to record the new ones. */
  private updateOwnAddress(): void {
    const rt = this.rt;
    const soft = rt.softState();
    const self = soft.membership.member(rt.options.id);
    // Also a member recorded before incarnations existed: record this directory's (it is the same directory).
    const incarnationKnown = self?.incarnation !== undefined;
    if (self === undefined || (self.raftAddr === rt.raftAddr && self.httpAddr === rt.httpAddr && incarnationKnown)) return;
    if (soft.role === "leader") {
      const now = performance.now();
      if (now < (this.nextAt.get("address") ?? 0)) return;
      this.nextAt.set("address", now + rt.options.electionMs);
      const appended = rt.offerConf({ type: "update_addr", id: rt.options.id, raftAddr: rt.raftAddr, httpAddr: rt.httpAddr, incarnation: rt.storage.meta.incarnation });
      if (appended) rt.logger.info(`updating own address to raft ${rt.raftAddr}, http ${rt.httpAddr}`);
      return;
    }
    this.run("address update", async () => {
      const targets = this.contactAddresses();
      for (const addr of targets) {
        const request = { id: rt.options.id, raft_addr: rt.raftAddr, http_addr: rt.httpAddr, incarnation: rt.storage.meta.incarnation };
        try {
          const reply = await postJson(addr, "/join", request, this.timeoutMs, this.rt.memberHttp);
          if (reply.status === 200) {
            rt.logger.info(`address update accepted through ${addr}: raft ${rt.raftAddr}, http ${rt.httpAddr}`);
            return rt.options.electionMs;
          }
          rt.logger.warn(`address update through ${addr}: ${describeReply(reply)}`);
        } catch (error) {
          rt.logger.warn(`address update through ${addr} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return rt.options.electionMs;
    });
  }

  /** contactAddresses: where to send requests for the leader: the leader first, then -join, then every member. */
  private contactAddresses(): string[] {
    const rt = this.rt;
    const out: string[] = [];
    const soft = rt.softState();
    const leader = soft.leaderId === 0 ? undefined : soft.membership.member(soft.leaderId);
    if (leader !== undefined && leader.id !== rt.options.id) out.push(leader.httpAddr);
    if (this.options.joinAddr !== null) out.push(this.options.joinAddr);
    for (const m of soft.membership.conf.members) if (m.id !== rt.options.id) out.push(m.httpAddr);
    return [...new Set(out.filter((a) => a !== "" && a !== rt.httpAddr))];
  }

  /** discoverPeers learns members' raft addresses from their /status (a message came from an unknown node). */
  discoverPeers(from: NodeId): void {
    const rt = this.rt;
    this.run("peer discovery", async () => {
      for (const addr of this.contactAddresses()) {
        const status = await fetchStatus(addr, this.timeoutMs, this.rt.memberHttp);
        if (status === null) continue;
        for (const m of status.members) rt.setPeer(m.id, m.raft_addr);
        if (status.members.some((m) => m.id === from)) break;
      }
      return 1_000;
    });
  }

  /**
   * checkRemoved: a removed node usually never receives the entry that removes it (the leader stops
   * replicating to it). After a long silence from any leader, ask the members: a leader whose configuration
   * no longer holds us means we were removed, and we stop.
   */
  private checkRemoved(): void {
    const rt = this.rt;
    if (!this.wasMember || rt.softState().leaderId !== 0) return;
    if (performance.now() - rt.lastLeaderAt < 3 * rt.options.electionMs) return;
    this.run("removal check", async () => {
      for (const addr of this.contactAddresses()) {
        const status = await fetchStatus(addr, this.timeoutMs, this.rt.memberHttp);
        if (status === null || !status.is_leader || status.cluster_id !== rt.storage.meta.clusterId) continue;
        if (status.term < rt.softState().term || status.members.some((m) => m.id === rt.options.id)) continue;
        rt.logger.warn(`node ${status.id} leads term ${status.term} without this node in its configuration: this node was removed`);
        rt.reportRemoved();
        break;
      }
      return 2 * rt.options.electionMs;
    });
  }
}
