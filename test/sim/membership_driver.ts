import type { NodeId } from "../../src/raft/types.ts";
import type { SimCluster } from "./cluster.ts";
import { changeOf } from "./node.ts";

/**
 * MembershipDriver plays the operator: add a new server as a learner, promote it, remove a voter
 * (possibly the leader), one change at a time, keeping 3..5 voters. A server whose removal was
 * applied anywhere (so committed) is stopped for good.
 */
export class MembershipDriver {
  private nextId: NodeId;
  private pending: NodeId | null = null;
  added = 0;
  removed = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly options: { votersMin: number; votersMax: number; addsMax: number },
  ) {
    this.nextId = Math.max(...cluster.ids()) + 1;
    cluster.onApplied = (_node, entry) => {
      if (entry.kind !== "conf" || entry.change.type !== "remove") return;
      const id = entry.change.id;
      cluster.later(() => {
        if (!cluster.node(id).retired) {
          this.removed++;
          cluster.retire(id);
        }
      });
    };
  }

  /** step makes the next change through the current leader, if there is one. */
  step(): void {
    const c = this.cluster;
    const leader = c.leader();
    if (!leader?.core) return;
    const members = leader.core.status().members;
    const learner = members.find((m) => m.role === "learner");
    if (learner) {
      c.proposeConf(leader.id, changeOf("promote", learner.id));
      return;
    }
    const pending = this.pending;
    if (pending !== null) {
      if (!members.some((m) => m.id === pending)) {
        c.proposeConf(leader.id, changeOf("add_learner", pending));
        return;
      }
      this.pending = null;
    }
    if (c.rng.chance(0.1)) {
      // Readdress a member (it keeps its role); the configuration must carry the new addresses.
      const m = c.rng.pick(members);
      c.proposeConf(leader.id, { type: "update_addr", id: m.id, raftAddr: `${m.raftAddr}'`, httpAddr: `${m.httpAddr}'` });
      return;
    }
    const voters = members.filter((m) => m.role === "voter");
    if (voters.length > this.options.votersMin && (voters.length >= this.options.votersMax || c.rng.chance(0.5))) {
      c.proposeConf(leader.id, changeOf("remove", c.rng.pick(voters).id));
      return;
    }
    if (voters.length < this.options.votersMax && this.added < this.options.addsMax) {
      const id = this.nextId++;
      c.addNode(id);
      this.pending = id;
      this.added++;
      c.proposeConf(leader.id, changeOf("add_learner", id));
    }
  }
}
