// A tiny deterministic driver for unit tests: several RaftCores over MemoryStorage, an in-test message
// pump that follows the Ready contract (send, persist, send-after-persist, apply, advance).
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { createRand } from "../../src/raft/rand.ts";
import type { ConfState, Entry, Member, Message, NodeId, RaftConfig, ReadState, SnapshotMeta } from "../../src/raft/types.ts";

export function member(id: NodeId, role: Member["role"] = "voter"): Member {
  return { id, role, raftAddr: `127.0.0.1:${7000 + id}`, httpAddr: `127.0.0.1:${8000 + id}` };
}

export function confOf(voters: NodeId[], learners: NodeId[] = []): ConfState {
  return { members: [...voters.map((id) => member(id)), ...learners.map((id) => member(id, "learner"))] };
}

export interface TestNode {
  id: NodeId;
  core: RaftCore;
  storage: MemoryStorage;
  /** applied: data entries applied, as strings ("noop" / "conf:type:id" for the others). */
  applied: string[];
  /** appliedAt: index → applied entry, across snapshots and restarts (for cross-node checks). */
  appliedAt: Map<number, string>;
  appliedIndex: number;
  readStates: ReadState[];
  snapshotsInstalled: SnapshotMeta[];
}

export type Filter = (m: Message) => boolean;

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function describe(e: Entry): string {
  if (e.kind === "normal") return dec(e.data);
  if (e.kind === "noop") return "noop";
  return `conf:${e.change.type}:${e.change.id}`;
}

export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Every message sent, for counting. */
  sent: Message[] = [];
  /** Messages for which a filter returns true are dropped. */
  filters: Filter[] = [];
  seed: number;

  constructor(seed = 1, readonly overrides: Partial<RaftConfig> = {}) {
    this.seed = seed;
  }

  config(id: NodeId, storage: MemoryStorage, applied = 0): RaftConfig {
    return {
      id,
      log: storage,
      hardState: storage.hardState,
      applied,
      electionTicks: 10,
      heartbeatTicks: 1,
      rand: createRand(this.seed * 100 + id),
      preVote: true,
      checkQuorum: true,
      maxInflight: 64,
      maxBytesPerMessage: 1 << 20,
      maxEntriesPerMessage: 64,
      maxUncommittedEntries: 10_000,
      ...this.overrides,
    };
  }

  /** add creates a node whose storage starts with `conf` (as an index-0 snapshot) and optional entries. */
  add(id: NodeId, conf: ConfState, entries: Entry[] = [], hard = { term: 0, vote: 0, commit: 0 }): TestNode {
    const storage = new MemoryStorage();
    storage.applySnapshot({ index: 0, term: 0, conf });
    storage.append(entries);
    storage.setHardState(hard);
    const node: TestNode = { id, core: new RaftCore(this.config(id, storage)), storage, applied: [], appliedAt: new Map(), appliedIndex: 0, readStates: [], snapshotsInstalled: [] };
    this.nodes.set(id, node);
    return node;
  }

  /** restart rebuilds node `id` from exactly what its storage holds (unpersisted state is lost). */
  restart(id: NodeId): TestNode {
    const old = this.get(id);
    const snapIndex = old.storage.snapshotMeta().index;
    const core = new RaftCore(this.config(id, old.storage, snapIndex));
    const node: TestNode = { ...old, core, applied: [], appliedIndex: snapIndex, readStates: [] };
    this.nodes.set(id, node);
    this.queue = this.queue.filter((m) => m.to !== id);
    return node;
  }

  get(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: NodeId): RaftCore {
    return this.get(id).core;
  }

  isolate(id: NodeId): Filter {
    const f: Filter = (m) => m.from === id || m.to === id;
    this.filters.push(f);
    return f;
  }

  heal(): void {
    this.filters = [];
  }

  private emit(m: Message): void {
    this.sent.push(m);
    if (this.filters.some((f) => f(m))) return;
    this.queue.push(m);
  }

  /** processReady drives one node through all of its pending Ready batches. */
  processReady(node: TestNode): boolean {
    let any = false;
    for (let guard = 0; node.core.hasReady(); guard++) {
      if (guard > 1000) throw new Error("processReady: no progress");
      any = true;
      const rd = node.core.ready();
      for (const m of rd.messages) this.emit(m);
      if (rd.snapshot) {
        node.storage.applySnapshot(rd.snapshot);
        node.snapshotsInstalled.push(rd.snapshot);
        node.appliedIndex = rd.snapshot.index;
        node.applied.push(`snapshot@${rd.snapshot.index}`);
      }
      node.storage.append(rd.entries);
      if (rd.hardState) node.storage.setHardState(rd.hardState);
      for (const m of rd.messagesAfterPersist) this.emit(m);
      for (const e of rd.committed) {
        if (e.index !== node.appliedIndex + 1) throw new Error(`node ${node.id}: applied ${e.index} after ${node.appliedIndex}`);
        if (e.index > node.storage.lastIndex()) throw new Error(`node ${node.id}: applying ${e.index} beyond durable log`);
        node.appliedIndex = e.index;
        node.applied.push(describe(e));
        node.appliedAt.set(e.index, describe(e));
      }
      node.readStates.push(...rd.readStates);
      node.core.advance(rd);
    }
    return any;
  }

  /** deliver steps one queued message (and reports a delivered snapshot back to its sender). */
  deliver(m: Message): void {
    const node = this.nodes.get(m.to);
    if (!node) return;
    node.core.step(m);
    if (m.type === "snapshot") this.nodes.get(m.from)?.core.reportSnapshot(m.to, true);
  }

  /** pump runs ready/deliver until the cluster is quiet. */
  pump(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let any = false;
      for (const node of this.nodes.values()) any = this.processReady(node) || any;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) this.deliver(m);
      if (!any && batch.length === 0) return;
    }
    throw new Error("pump: cluster did not quiesce");
  }

  tick(ids: NodeId[] = [...this.nodes.keys()], times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.core(id).tick();
      this.pump();
    }
  }

  leaders(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.core.status().role === "leader").map((n) => n.id);
  }

  /** elect ticks until exactly one leader exists; returns it. */
  elect(maxTicks = 200): NodeId {
    for (let i = 0; i < maxTicks; i++) {
      const leaders = this.leaders();
      if (leaders.length === 1) return leaders[0] as NodeId;
      this.tick();
    }
    throw new Error("no leader elected");
  }
}

/** newCluster: n voters 1..n sharing one initial configuration. */
export function newCluster(n: number, seed = 1, overrides: Partial<RaftConfig> = {}): Cluster {
  const c = new Cluster(seed, overrides);
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  for (const id of ids) c.add(id, confOf(ids));
  return c;
}
