import type { ConfChange, Entry, Member, Message, NodeId, ProposeResult, RaftStatus, Ready } from "./types.ts";
import type { SoftState } from "./soft_state.ts";

/**
 * RaftNode is the contract of the pure core (implemented by RaftCore in raft.ts, constructed from a
 * RaftConfig). Every method is synchronous and deterministic given the config's Rand: no I/O, no clock.
 * Time only enters through tick(); the driver calls it every heartbeat interval / heartbeatTicks.
 */
export interface RaftNode {
  /** tick advances the logical clock by one tick (elections, heartbeats, check-quorum). */
  tick(): void;
  /** step feeds one message from a peer. Stale or foreign messages are ignored, never thrown on. */
  step(message: Message): void;
  /** propose appends application data on the leader; elsewhere it is refused with the leader hint. */
  propose(data: Uint8Array): ProposeResult;
  /** proposeConfChange: one change at a time; refused with change_in_progress while one is uncommitted. */
  proposeConfChange(change: ConfChange): ProposeResult;
  /**
   * readIndex asks for a linearizable read point. The answer arrives later as a ReadState with this ctx
   * (index -1 when the read failed: leadership lost, or the leader refused). On a follower the request
   * is forwarded to the leader. Refused at once when no leader is known.
   */
  readIndex(ctx: string): { ok: true } | { ok: false; error: "no_leader"; leaderId: NodeId };
  /** transferLeadership catches `to` up, then sends it TimeoutNow (thesis §3.10). Leader only. */
  transferLeadership(to: NodeId): { ok: true } | { ok: false; error: "not_leader" | "unknown_member" | "transfer_in_progress"; leaderId: NodeId };
  /** campaign starts an election now (a single-voter cluster elects itself at once). */
  campaign(): void;
  hasReady(): boolean;
  /** ready takes the pending batch; see the Ready contract in types.ts. */
  ready(): Ready;
  /** advance acknowledges that the batch was persisted, sent and applied. */
  advance(ready: Ready): void;
  /**
   * takeCommitted: while a Ready's write runs, the entries committed since it was taken (none while a snapshot
   * waits to be installed); the driver may apply them at once, advance() counts them as applied.
   */
  takeCommitted(): Entry[];
  /**
   * takeMessages: while a Ready's write runs, the messages that may leave before it (Ready.messages of the next
   * batch: a leader's appends of new proposals go out at once); none while a term or vote waits for its write.
   */
  takeMessages(): Message[];
  /** reportUnreachable: the transport could not deliver to `id`; replication to it falls back to probing. */
  reportUnreachable(id: NodeId): void;
  /** reportSnapshot: the streamed snapshot to `id` finished (ok) or failed; failed transfers are retried. */
  reportSnapshot(id: NodeId, ok: boolean): void;
  /** softState: role, leader, term and configuration in effect, as of now (read-only; changes with every step). */
  softState(): SoftState;
  status(): RaftStatus;
}

/**
 * BootstrapState is what a node started with -bootstrap on an empty data dir persists before
 * constructing its core: a log whose first committed entries make `self` the only voter.
 */
export interface BootstrapState {
  entries: import("./types.ts").Entry[];
  hardState: import("./types.ts").HardState;
}

export type BootstrapFn = (self: Member) => BootstrapState;
