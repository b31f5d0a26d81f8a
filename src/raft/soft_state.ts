// SoftState lives beside, not in, types.ts: it names the Membership class, and membership.ts imports types.ts.
import type { Membership } from "./membership.ts";
import type { NodeId, Role, Term } from "./types.ts";

/**
 * SoftState is the volatile state a driver watches (etcd-io/raft's SoftState, plus the term and the
 * configuration in effect): never persisted, read through RaftCore.softState(). leaderId 0: no leader known.
 */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly term: Term;
  readonly membership: Membership;
}
