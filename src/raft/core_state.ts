import type { RaftLog } from "./log.ts";
import type { UncommittedConf } from "./log_conf.ts";
import type { Membership } from "./membership.ts";
import type { Progress } from "./progress.ts";
import type { PendingRead, ReadIndexQueue } from "./read_index.ts";
import type { Index, Message, NodeId, RaftConfig, ReadState, Role, Term } from "./types.ts";

/**
 * CoreState is the state of one Raft core as its parts see it: the role handlers (step_*.ts), elections
 * (vote.ts), append handling (append.ts), replication.ts and leader_read.ts all take a CoreState, never the
 * RaftCore class, so none of them imports raft.ts (which imports them). RaftCore implements it; drivers use
 * RaftNode's methods and softState() instead.
 */
export interface CoreState {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly log: RaftLog;
  term: Term;
  /** vote: the candidate voted for in `term`, 0 when none. */
  vote: NodeId;
  /** leaderId: the leader of `term` as far as we know, 0 when none. */
  leaderId: NodeId;
  role: Role;
  /** membership: the configuration in effect (the latest one in the log, thesis §4.1). */
  membership: Membership;
  /** progress: leader only, one Progress per member, including itself. */
  readonly progress: Map<NodeId, Progress>;
  /** votes: (pre-)candidate only, the answers received in this election. */
  readonly votes: Map<NodeId, boolean>;
  electionElapsed: number;
  /** leadTransferee: the target of a leadership transfer in progress, 0 when none. */
  leadTransferee: NodeId;
  /** pendingConfIndex: index of the last conf entry appended; a new change waits until it is committed. */
  pendingConfIndex: Index;
  /** uncommittedConf: conf entries in the log above commit, applied in order when they commit. */
  uncommittedConf: UncommittedConf[];
  /** foldedAheadIndex: the last uncommitted conf entry already in effect since start (0: none); see rebuildConf. */
  foldedAheadIndex: Index;
  readonly reads: ReadIndexQueue;
  /** pendingReadRound: a read was queued; one heartbeat round, tagged with the newest read's ctx, goes out at ready(). */
  pendingReadRound: boolean;
  /** readRounds: read rounds sent in this term; it picks whose turn it is to answer the next (sendReadRound). */
  readRounds: number;
  /** forwardedReads: follower only, reads forwarded to the leader, failed (-1) if the term or role changes first. */
  readonly forwardedReads: Set<string>;
  /** readsAwaitingCommit: reads that arrived before the leader committed an entry of its term (§6.4 step 1). */
  readsAwaitingCommit: PendingRead[];
  /** msgsAfterPersist: messages that promise durability (acks, vote grants); they leave after the write. */
  msgsAfterPersist: Message[];
  readStates: ReadState[];
  /** pendingBcast: a proposal was appended on the leader; appends go out at the next ready() (batching). */
  pendingBcast: boolean;

  becomeFollower(term: Term, leaderId: NodeId): void;
  becomePreCandidate(): void;
  becomeCandidate(): void;
  becomeLeader(): void;
  /** promotable: only voters of the configuration in effect may campaign. */
  promotable(): boolean;
  /** commitTo advances commit and applies conf entries that just committed; false when commit did not move. */
  commitTo(index: Index): boolean;
  /** send queues a message to a peer (acks and vote grants wait for the write, see Ready). */
  send(m: Message): void;
}
