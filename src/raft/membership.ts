import { assert } from "../shared/assert.ts";
import type { ConfChange, ConfState, Member, NodeId } from "./types.ts";

/**
 * validateConfChange says why `change` cannot apply to `conf` (one server at a time, thesis §4.1),
 * or null when it can.
 */
export function validateConfChange(conf: ConfState, change: ConfChange): string | null {
  const member = conf.members.find((m) => m.id === change.id);
  if (!Number.isInteger(change.id) || change.id <= 0) return `invalid member id ${change.id}`;
  switch (change.type) {
    case "add_learner":
      return member ? `member ${change.id} already exists` : null;
    case "promote":
      if (!member) return `member ${change.id} is unknown`;
      return member.role === "learner" ? null : `member ${change.id} is not a learner`;
    case "remove": {
      if (!member) return `member ${change.id} is unknown`;
      const voters = conf.members.filter((m) => m.role === "voter").length;
      if (member.role === "voter" && voters <= 1) return `cannot remove the last voter ${change.id}`;
      return null;
    }
    case "update_addr":
      return member ? null : `member ${change.id} is unknown`;
  }
}

/**
 * applyConfChange returns the configuration after `change`. Changes that do not validate are
 * ignored (a committed entry must apply the same way everywhere, so it never throws).
 * Exported for the node: it rebuilds the conf of a snapshot it takes by replaying applied entries.
 */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (validateConfChange(conf, change) !== null) return conf;
  const members = conf.members.map((m) => ({ ...m }));
  switch (change.type) {
    case "add_learner":
      members.push({
        id: change.id,
        role: "learner",
        raftAddr: change.raftAddr,
        httpAddr: change.httpAddr,
        ...(change.incarnation ? { incarnation: change.incarnation } : {}),
      });
      break;
    case "promote":
      for (const m of members) if (m.id === change.id) m.role = "voter";
      break;
    case "remove":
      return { members: members.filter((m) => m.id !== change.id) };
    case "update_addr":
      for (const m of members) {
        if (m.id === change.id) {
          m.raftAddr = change.raftAddr;
          m.httpAddr = change.httpAddr;
          if (change.incarnation && !m.incarnation) m.incarnation = change.incarnation;
        }
      }
      break;
  }
  members.sort((a, b) => a.id - b.id);
  return { members };
}

/** Membership is the configuration in effect, with fast lookups. */
export class Membership {
  readonly voters: NodeId[];
  readonly learners: NodeId[];
  private readonly byId: Map<NodeId, Member>;

  constructor(readonly conf: ConfState) {
    this.byId = new Map(conf.members.map((m) => [m.id, m]));
    assert(this.byId.size === conf.members.length, "membership: duplicate member ids");
    this.voters = conf.members.filter((m) => m.role === "voter").map((m) => m.id);
    this.learners = conf.members.filter((m) => m.role === "learner").map((m) => m.id);
  }

  ids(): NodeId[] {
    return [...this.byId.keys()];
  }

  has(id: NodeId): boolean {
    return this.byId.has(id);
  }

  isVoter(id: NodeId): boolean {
    return this.byId.get(id)?.role === "voter";
  }

  member(id: NodeId): Member | undefined {
    return this.byId.get(id);
  }
}
