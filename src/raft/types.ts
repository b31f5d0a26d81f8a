// The data the Raft core exchanges with the outside world. Pure types: no I/O anywhere in src/raft.
// Shared by storage (which persists Entry, HardState, SnapshotMeta), transport (which carries Message)
// and node (which drives the core). Changing a shape here changes the disk and wire formats.
export type NodeId = number;
export type Term = number;
export type Index = number;

/** HardState is what must be durable before any message that depends on it is sent. */
export interface HardState {
  term: Term;
  /** vote is the candidate voted for in `term`; 0 when none. */
  vote: NodeId;
  commit: Index;
}

export type MemberRole = "voter" | "learner";

/** Member is one server of the configuration, with the addresses peers and clients reach it at. */
export interface Member {
  id: NodeId;
  role: MemberRole;
  raftAddr: string;
  httpAddr: string;
  /**
   * incarnation: the data-directory incarnation of the server that joined under this id (absent in
   * configurations written before incarnations existed). A server with another incarnation is not this member.
   */
  incarnation?: string;
}

/** ConfState is the cluster configuration: every member, voters and learners. */
export interface ConfState {
  members: Member[];
}

/**
 * ConfChange changes the configuration by one server at a time (thesis §4.1):
 * - add_learner: a new server that receives the log but does not vote;
 * - promote: learner → voter;
 * - remove: the server leaves (a removed leader steps down);
 * - update_addr: the member keeps its role, its raft/http addresses change.
 * `incarnation`: for add_learner, the joining server's; for remove, the one removed; for update_addr, when
 * given, recorded for a member that has none yet.
 */
export interface ConfChange {
  type: "add_learner" | "promote" | "remove" | "update_addr";
  id: NodeId;
  raftAddr: string;
  httpAddr: string;
  incarnation?: string;
}

/**
 * Entry is one log record. `noop` is the entry a new leader appends at the start of its term;
 * `conf` carries a ConfChange; `normal` carries opaque application bytes (a kv command).
 */
export type Entry =
  | { kind: "normal"; index: Index; term: Term; data: Uint8Array }
  | { kind: "noop"; index: Index; term: Term }
  | { kind: "conf"; index: Index; term: Term; change: ConfChange };

/** SnapshotMeta describes a state-machine image covering every entry up to and including `index`. */
export interface SnapshotMeta {
  index: Index;
  term: Term;
  conf: ConfState;
}

interface Envelope {
  from: NodeId;
  to: NodeId;
  term: Term;
}

/**
 * Message is everything Raft peers send each other. The snapshot *data* is not in the `snapshot`
 * message: the node streams it in chunks beside the message and steps the message into the receiving
 * core once the data is fully received and staged (see handleSnapshot in append.ts).
 */
export type Message =
  | (Envelope & { type: "pre_vote"; lastIndex: Index; lastTerm: Term })
  | (Envelope & { type: "pre_vote_resp"; reject: boolean })
  /** transfer is true when the election was started by TimeoutNow: it must not be ignored by check-quorum's lease. */
  | (Envelope & { type: "vote"; lastIndex: Index; lastTerm: Term; transfer: boolean })
  | (Envelope & { type: "vote_resp"; reject: boolean })
  | (Envelope & { type: "append"; prevIndex: Index; prevTerm: Term; entries: Entry[]; commit: Index })
  /**
   * On success `index` is the last index now matching the leader. On reject `index` is the rejected
   * prevIndex and `hintIndex`/`hintTerm` help the leader skip back fast (conflict term and its first index).
   */
  | (Envelope & { type: "append_resp"; index: Index; reject: boolean; hintIndex: Index; hintTerm: Term })
  /** ctx is set when the heartbeat round confirms leadership for ReadIndex requests. */
  | (Envelope & { type: "heartbeat"; commit: Index; ctx: string })
  | (Envelope & { type: "heartbeat_resp"; ctx: string })
  | (Envelope & { type: "snapshot"; snapshot: SnapshotMeta })
  | (Envelope & { type: "timeout_now" })
  /** A follower forwards a ReadIndex request to the leader. */
  | (Envelope & { type: "read_index"; ctx: string })
  /** The leader's answer: index is the read index, or -1 when it could not serve (not leader any more). */
  | (Envelope & { type: "read_index_resp"; ctx: string; index: Index });

export type MessageType = Message["type"];

export type Role = "follower" | "pre_candidate" | "candidate" | "leader";

/** ReadState: the read identified by ctx may be served once the local state machine applied `index`. */
export interface ReadState {
  ctx: string;
  index: Index;
}

/**
 * Ready is one batch of work the core hands to its driver. Contract for the driver, in this order:
 * 1. send `messages` now (they do not depend on local durability; the leader's appends go out
 *    in parallel with its own disk write, thesis §10.2.1). When the batch changes the term or vote,
 *    `messages` is empty: everything then waits in `messagesAfterPersist`;
 * 2. persist `snapshot` (if any, its data was staged when the snapshot message arrived), then `entries`
 *    (entries[0].index may be ≤ the last stored index: the stored suffix from there is replaced) and
 *    `hardState`, and fsync;
 * 3. only then send `messagesAfterPersist` (votes, append acks: they promise durability; and every
 *    message of a term or vote this batch makes durable);
 * 4. apply `committed` in order (they are never beyond what step 2 made durable), hand `readStates`
 *    to waiting readers (serve each once applied ≥ its index). A driver may apply `committed` while the
 *    write of step 2 runs, and what takeCommitted() hands out meanwhile: committed means durable on a
 *    majority (a leader counts its own entries only once durable) — but a snapshot is installed first;
 *    likewise it may send what takeMessages() hands out while the write runs (the next batch's `messages`);
 * 5. call `advance(ready)`.
 * Only one Ready is outstanding at a time: call ready() again only after advance().
 */
export interface Ready {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: SnapshotMeta | null;
  committed: Entry[];
  messages: Message[];
  messagesAfterPersist: Message[];
  readStates: ReadState[];
  /** mustSync is false when nothing in this batch needs an fsync (no entries, no term/vote change). */
  mustSync: boolean;
}

/**
 * LogReader is the durable log as the core sees it: read-only, synchronous (the core cannot await), and
 * O(1) for term lookups. Implemented by storage (src/storage) and by MemoryStorage for tests.
 */
export interface LogReader {
  /** firstIndex is the first entry still in the log: snapshotMeta().index + 1 when the prefix was compacted. */
  firstIndex(): Index;
  /** lastIndex is the last entry in the log, or snapshotMeta().index when the log is empty. */
  lastIndex(): Index;
  /**
   * term of the entry at `index`. For index == snapshotMeta().index, the snapshot's term (0 for index 0).
   * undefined when the index was compacted away or lies beyond lastIndex().
   */
  term(index: Index): Term | undefined;
  /** entries in [lo, hi), at most bytesMax bytes of payload but always at least one; throws if lo < firstIndex. */
  entries(lo: Index, hi: Index, bytesMax: number): Entry[];
  /** snapshotMeta of the newest snapshot; index 0, term 0 and the empty conf when there is none. */
  snapshotMeta(): SnapshotMeta;
}

/** ProposeResult: accepted proposals get the index and term they will commit at (if they do). */
export type ProposeResult =
  | { ok: true; index: Index; term: Term }
  | {
      ok: false;
      error: "not_leader" | "no_leader" | "change_in_progress" | "transfer_in_progress" | "too_many_uncommitted" | "bad_change";
      leaderId: NodeId;
    };

/** Rand is the injected source of randomness (seeded in tests); returns an integer in [0, n). */
export interface Rand {
  int(n: number): number;
}

/**
 * TestFaults deliberately break a rule of the core. Only the simulator's "can the checker fail?" tests set
 * them; production code never does. Each one must be caught by the simulator's invariants.
 */
export interface TestFaults {
  /** Commit an entry of a previous term by counting replicas (the Figure 8 bug, thesis §3.6.2). */
  commitPreviousTermByCount?: boolean;
  /** Grant votes without the log up-to-date check (§3.6.1). */
  voteWithoutLogCheck?: boolean;
  /** Serve ReadIndex without confirming leadership with a heartbeat round. */
  readIndexWithoutQuorum?: boolean;
}

export interface RaftConfig {
  id: NodeId;
  log: LogReader;
  /** hardState as loaded from disk (term 0, vote 0, commit 0 on a fresh node). */
  hardState: HardState;
  /** applied is the index the state machine has applied at start (the loaded snapshot's index). */
  applied: Index;
  /** electionTicks: followers start an election after a random timeout in [electionTicks, 2*electionTicks). */
  electionTicks: number;
  heartbeatTicks: number;
  rand: Rand;
  preVote: boolean;
  checkQuorum: boolean;
  /** Per-follower cap on append messages in flight (pipelining window). */
  maxInflight: number;
  /** Per-message cap on entry payload bytes. */
  maxBytesPerMessage: number;
  maxEntriesPerMessage: number;
  /** Cap on uncommitted entries on the leader; proposals beyond it are refused. */
  maxUncommittedEntries: number;
  faults?: TestFaults;
}

export interface MemberStatus extends Member {
  /** matchIndex as the leader tracks it (0 on followers, and for the leader its own last durable index). */
  matchIndex: Index;
}

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: Term;
  vote: NodeId;
  leaderId: NodeId;
  commit: Index;
  applied: Index;
  firstIndex: Index;
  lastIndex: Index;
  snapshotIndex: Index;
  members: MemberStatus[];
  /** leadTransferee is the target of a leadership transfer in progress, 0 when none. */
  leadTransferee: NodeId;
  /** quorumActive: on a leader, a majority was heard from within the last election timeout. */
  quorumActive: boolean;
}
