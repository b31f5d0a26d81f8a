import type { NodeId } from "../raft/types.ts";

// fault_tolerance.ts: the one definition of "how many more voters may fail before writes stop", shared by
// GET /status, GET /metrics, `qklzl status` and the warning a stopping node logs.

/** quorumSize: the voters a single configuration needs to elect a leader and commit (a strict majority). */
export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** ToleranceFigure: the figure and what it was computed from, for the message that explains it. */
export interface ToleranceFigure {
  /** faultTolerance: reachable voters beyond a quorum; 0 means the next voter lost stops writes. Never negative. */
  faultTolerance: number;
  /** reachable: voters the leader counts as up (itself included). */
  reachable: number;
  voters: number;
  quorum: number;
}

/**
 * leaderFaultTolerance is the leader's figure: the voters it heard from within the check-quorum window (itself
 * included) minus a quorum. A quorum already lost is 0 too (writes have stopped; the leader steps down soon).
 */
export function leaderFaultTolerance(voters: readonly NodeId[], self: NodeId, reachable: (id: NodeId) => boolean): ToleranceFigure {
  let up = 0;
  for (const id of voters) if (id === self || reachable(id)) up++;
  const quorum = quorumSize(voters.length);
  return { faultTolerance: Math.max(0, up - quorum), reachable: up, voters: voters.length, quorum };
}

/** describeFigure: "2 of 3 voters reachable, quorum 2" for log lines. */
export function describeFigure(figure: ToleranceFigure): string {
  return `${figure.reachable} of ${figure.voters} voters reachable, quorum ${figure.quorum}`;
}

/**
 * stopCostsQuorum: stopping `self` (a voter) leaves fewer reachable voters than a quorum. The leader knows who
 * is reachable; the figure counts `self` as up, so one node leaving costs the quorum exactly when it is 0.
 */
export function stopCostsQuorum(figure: ToleranceFigure, selfIsVoter: boolean): boolean {
  return selfIsVoter && figure.faultTolerance === 0;
}
