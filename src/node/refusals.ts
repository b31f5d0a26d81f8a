import type { SoftState } from "../raft/soft_state.ts";
import type { NodeId, ProposeResult } from "../raft/types.ts";
import { QklzlError } from "../shared/errors.ts";

/** overload_retry_after_s: the Retry-After an overloaded answer carries (one second: a queue drains in far less). */
export const overload_retry_after_s = 1;

/**
 * Refusals builds the errors a request gets when this node cannot serve it: one wording per case, so every
 * API (HTTP today, gRPC later) answers the same. The leader hint in the details is what the HTTP layer turns
 * into a 307 or a forward.
 */
export class Refusals {
  constructor(
    private readonly selfId: NodeId,
    private readonly soft: () => SoftState,
  ) {}

  leaderDetails(): Record<string, unknown> {
    const { leaderId, membership } = this.soft();
    return { leader_id: leaderId, leader_http_addr: leaderId === 0 ? "" : (membership.member(leaderId)?.httpAddr ?? "") };
  }

  notLeaderError(why?: string): QklzlError {
    const leaderId = this.soft().leaderId;
    if (leaderId === 0) return this.noLeaderError();
    const details = this.leaderDetails();
    const at = details.leader_http_addr === "" ? "" : ` at ${String(details.leader_http_addr)}`;
    const message = why ?? `node ${this.selfId} is not the leader; the leader is node ${leaderId}${at}`;
    return new QklzlError("not_leader", message, details);
  }

  noLeaderError(): QklzlError {
    return new QklzlError("no_leader", `node ${this.selfId} knows no leader (an election may be in progress); retry shortly`, {
      leader_id: 0,
      leader_http_addr: "",
    });
  }

  noQuorumError(): QklzlError {
    return new QklzlError("no_quorum", `node ${this.selfId} leads but cannot reach a majority of the voters`);
  }

  /** overloadedError: too much in flight; retry after retry_after_s (HTTP 429 + Retry-After, gRPC RESOURCE_EXHAUSTED). */
  overloadedError(why: string): QklzlError {
    return new QklzlError("overloaded", `node ${this.selfId} is overloaded: ${why}; retry shortly`, { retry_after_s: overload_retry_after_s });
  }

  shuttingDownError(started: boolean): QklzlError {
    return new QklzlError("shutting_down", `node ${this.selfId} is ${started ? "shutting down" : "starting"}`);
  }

  /** refusal maps the core's refused proposal to the error the request gets; `what` names the request. */
  refusal(result: Extract<ProposeResult, { ok: false }>, what: string): QklzlError {
    switch (result.error) {
      case "not_leader":
      case "no_leader":
        return this.notLeaderError();
      case "change_in_progress":
        return new QklzlError("change_in_progress", `another membership change is in progress; ${what} was not queued, retry once it completes`);
      case "transfer_in_progress":
        return new QklzlError("transfer_in_progress", `a leadership transfer is in progress; ${what} was refused, retry shortly`);
      case "too_many_uncommitted":
        // Overload, not a lost quorum: the voters answer, they are only behind (429 with Retry-After; etcd's
        // "too many requests"). no_quorum stays for a leader that cannot reach a majority.
        return this.overloadedError(`too many uncommitted entries (followers are not keeping up); ${what} was refused`);
      case "bad_change":
        return new QklzlError("bad_request", `${what} does not apply to the current configuration`);
    }
  }
}
