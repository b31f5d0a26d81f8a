import { applyConfChange } from "../../src/raft/membership.ts";
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { createRand } from "../../src/raft/rand.ts";
import type { ConfChange, ConfState, HardState, Index, Member, NodeId, RaftConfig, Ready, Term } from "../../src/raft/types.ts";
import type { SnapshotImage } from "./network.ts";
import type { SimRng } from "./rng.ts";
import { SimStore } from "./store_replica.ts";

/** SNAPSHOTS_RETAINED: snapshot images kept on disk, so a transfer that started from an older one can finish. */
const SNAPSHOTS_RETAINED = 2;

/** CoreOptions are the RaftConfig knobs a simulated cluster runs its cores with. */
export type CoreOptions = Omit<RaftConfig, "id" | "log" | "hardState" | "applied" | "rand">;

export function memberOf(id: NodeId, role: Member["role"]): Member {
  return { id, role, raftAddr: `sim-raft-${id}`, httpAddr: `sim-http-${id}` };
}

export function changeOf(type: ConfChange["type"], id: NodeId): ConfChange {
  const m = memberOf(id, "learner");
  return { type, id, raftAddr: m.raftAddr, httpAddr: m.httpAddr };
}

/** Persisting is a Ready whose writes are under way: it becomes durable at tick `doneAt`. */
export interface Persisting {
  ready: Ready;
  doneAt: number;
  /** snapshotWritten: the Ready's snapshot is already on disk (the runtime driver installs it before the write). */
  snapshotWritten: boolean;
  /** applyWhileSaving: entries committed during the write are applied as messages arrive (the runtime driver). */
  applyWhileSaving: boolean;
}

/**
 * SimNode is one server: its disk (what survives a crash: MemoryStorage, the snapshot image beside
 * it), and, while up, a RaftCore plus the volatile state a process holds (state machine, Ready being
 * persisted, staged snapshot data, client requests waiting on it).
 */
export class SimNode {
  readonly disk = new MemoryStorage();
  /** diskImage is the state-machine image of disk.snapshotMeta() (the snapshot's data file). */
  diskImage: SnapshotImage = [""];
  private readonly retained: SnapshotImage[] = [];
  core: RaftCore | null = null;
  incarnation = 0;
  /** sm is the state machine: sm[i] is the identity of the entry applied at index i (sm[0] unused). */
  sm: string[] = [""];
  /** store: the replicated KV store fed the same entries as sm (its revision is what the checker compares). */
  store = new SimStore();
  /** conf is the configuration as of the applied index (what a snapshot taken now records). */
  conf: ConfState = { members: [] };
  persisting: Persisting | null = null;
  /** staged snapshot data received beside snapshot messages, by "index:term". */
  staged = new Map<string, SnapshotImage>();
  /** lastHardState: the last hard state this incarnation handed out (or loaded): commit never goes back. */
  lastHardState: HardState = { term: 0, vote: 0, commit: 0 };
  /** proposals accepted by this incarnation, by index: acknowledged when applied with the same term. */
  proposals = new Map<Index, { term: Term; payload: string }>();
  /** reads whose ReadState arrived, waiting until applied ≥ index. */
  waitingReads: Array<{ ctx: string; index: Index }> = [];
  /** retired: removed from the cluster for good; never restarted. */
  retired = false;
  crashes = 0;
  /** seenRole/seenTerm: what the trace last reported for this node. */
  seenRole = "";
  seenTerm = -1;
  /** ledTerm: the last term this node was seen leading (leader completeness is checked once per term). */
  ledTerm = 0;
  /** seenCommit: the core's commit index as last observed in this incarnation (it never goes back). */
  seenCommit = 0;

  constructor(readonly id: NodeId) {}

  get up(): boolean {
    return this.core !== null;
  }

  get applied(): Index {
    return this.sm.length - 1;
  }

  /** start constructs a fresh core over exactly what is on disk (a process start or restart). */
  start(options: CoreOptions, rng: SimRng): RaftCore {
    if (this.core) throw new Error(`node ${this.id} is already up`);
    const snap = this.disk.snapshotMeta();
    this.incarnation++;
    this.sm = [...this.diskImage];
    this.store = SimStore.fromImage(this.sm);
    this.conf = snap.conf;
    this.lastHardState = { ...this.disk.hardState };
    this.seenCommit = 0;
    this.core = new RaftCore({
      ...options,
      id: this.id,
      log: this.disk,
      hardState: { ...this.disk.hardState },
      applied: snap.index,
      rand: createRand(rng.seed32()),
    });
    return this.core;
  }

  /** stop loses every volatile thing: the core, the state machine, staged data, waiting clients. */
  stop(): void {
    this.core = null;
    this.persisting = null;
    this.staged.clear();
    this.proposals.clear();
    this.waitingReads = [];
    this.sm = [""];
    this.store = new SimStore();
  }

  /** applyConf keeps `conf` equal to the configuration as of the applied index. */
  applyConf(change: ConfChange): void {
    this.conf = applyConfChange(this.conf, change);
  }

  /** compact takes a snapshot at the applied index and drops the log up to it (the state machine's image). */
  compact(): boolean {
    const index = this.applied;
    if (index <= this.disk.snapshotMeta().index) return false;
    // The disk must hold the applied entry itself: a driver that applies before its own write finished (the
    // runtime driver) may have applied an entry that is not on disk yet, where a stale one may still sit.
    const term = this.disk.term(index);
    if (term === undefined || !this.sm[index]?.startsWith(`${term}:`)) return false;
    this.disk.compact(index, this.conf);
    this.setDiskImage(this.sm.slice(0, index + 1));
    return true;
  }

  /** setDiskImage records the image of the snapshot now on disk; the previous few are retained (like snapshot files). */
  setDiskImage(image: SnapshotImage): void {
    this.diskImage = image;
    this.retained.push(image);
    if (this.retained.length > SNAPSHOTS_RETAINED) this.retained.shift();
  }

  /** retainedImage finds the data of snapshot index:term among the retained ones (null if reaped). */
  retainedImage(index: Index, term: Term): SnapshotImage | null {
    for (const image of this.retained) {
      if (image.length === index + 1 && image[index]?.startsWith(`${term}:`)) return image;
    }
    return null;
  }
}
