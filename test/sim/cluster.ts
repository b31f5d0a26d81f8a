import { bootstrapState } from "../../src/raft/bootstrap.ts";
import { applyConfChange } from "../../src/raft/membership.ts";
import type { ConfChange, Entry, Index, Message, NodeId, ProposeResult, Ready, ReadState, SnapshotMeta } from "../../src/raft/types.ts";
import { Checker, entryIdentity, payloadOf } from "./checker.ts";
import { SimNetwork, copyMessage, type NetworkOptions, type Packet } from "./network.ts";
import { type CoreOptions, type Persisting, SimNode, memberOf } from "./node.ts";
import { SimRng } from "./rng.ts";
import { SimStore } from "./store_replica.ts";

/**
 * SimDriver is how a node's Ready is handled:
 * - "ready": the Ready contract of src/raft/types.ts as written (persist, send messagesAfterPersist, apply, advance);
 * - "runtime": what src/node/runtime.ts's handleReady does: install a snapshot at once, start the write, apply
 *   `committed` while it runs, apply what `takeCommitted()` hands out as messages arrive during the write, and
 *   send what `takeMessages()` hands out after each delivery and proposal during the write (its sendEarly).
 */
export type SimDriver = "ready" | "runtime";

/** driverForSeed: sweeps split their seeds between the drivers (odd seeds drive the core like the runtime). */
export function driverForSeed(seed: number): SimDriver {
  return seed % 2 === 0 ? "ready" : "runtime";
}

export interface ClusterOptions {
  seed: number;
  /** driver: how Readys are handled ("ready" when omitted). */
  driver?: SimDriver;
  /** voters: the initial voters, ids 1..voters, all starting from a snapshot of that configuration. */
  voters: number;
  /** bootstrap: node 1 starts alone from bootstrapState() instead (the cluster then grows by conf changes). */
  bootstrap?: boolean;
  core: CoreOptions;
  net: NetworkOptions;
  /** A Ready takes 0..persistTicksMax ticks to become durable; a crash in between tears it. */
  persistTicksMax: number;
  /** trace keeps the last events in memory to print on a failure. */
  trace?: boolean;
  /** plantForgetVote: a harness-planted bug: a crashed node's disk loses its vote (the checker must notice). */
  plantForgetVote?: boolean;
  /** plantSkipRevision: a harness-planted bug: node 2's store loses one write in eleven (no revision bump). */
  plantSkipRevision?: boolean;
}

export interface ClusterStats {
  proposed: number;
  acked: number;
  readsIssued: number;
  readsServed: number;
  readsFailed: number;
  crashes: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  compactions: number;
}

const encoder = new TextEncoder();
const TRACE_LINES_MAX = 5000;

/**
 * SimCluster drives RaftCores on a virtual clock over a SimNetwork, following the Ready contract
 * (types.ts) with persistence that takes time, and feeds every observation to the Checker.
 * All randomness comes from one SimRng seeded by options.seed.
 */
export class SimCluster {
  readonly rng: SimRng;
  readonly net: SimNetwork;
  readonly checker = new Checker();
  readonly nodes = new Map<NodeId, SimNode>();
  now = 0;
  /** persistTicksMax: how long a Ready may take to persist (starts at options.persistTicksMax; the liveness phase lowers it). */
  persistTicksMax: number;
  stats: ClusterStats = { proposed: 0, acked: 0, readsIssued: 0, readsServed: 0, readsFailed: 0, crashes: 0, snapshotsSent: 0, snapshotsInstalled: 0, compactions: 0 };
  /** onApplied is called for every entry a node applies (the membership driver watches conf entries). */
  onApplied: ((node: SimNode, entry: Entry) => void) | null = null;
  readonly driver: SimDriver;
  private deferred: Array<() => void> = [];
  private readonly reads = new Map<string, { node: NodeId; minIndex: Index }>();
  /** readsDone: how each finished read ended (kept only for reads issued with track = true). */
  private readonly readsDone = new Map<string, "served" | "failed">();
  private readSeq = 0;
  private writeSeq = 0;
  private readonly traceLines: string[] = [];
  /** isolated: nodes cut off by disconnect() (the lab's notion of "connected"). */
  private readonly isolated = new Set<NodeId>();

  constructor(readonly options: ClusterOptions) {
    this.persistTicksMax = options.persistTicksMax;
    this.driver = options.driver ?? "ready";
    this.rng = new SimRng(options.seed);
    this.net = new SimNetwork(this.rng, options.net);
    if (options.bootstrap) {
      const node = this.createNode(1);
      const boot = bootstrapState(memberOf(1, "voter"));
      node.disk.append(boot.entries);
      node.disk.setHardState(boot.hardState);
    } else {
      this.initialVoters(options.voters);
    }
    for (const node of this.nodes.values()) this.startNode(node);
  }

  /** initialVoters: every node starts from the same snapshot at index 1 whose conf lists all voters. */
  private initialVoters(count: number): void {
    const meta: SnapshotMeta = { index: 1, term: 1, conf: { members: [] } };
    for (let id = 1; id <= count; id++) meta.conf.members.push(memberOf(id, "voter"));
    const image = ["", "1:init"];
    this.checker.onApply(0, 1, "1:init");
    this.checker.onConfApplied(0, 1, meta.conf);
    for (let id = 1; id <= count; id++) {
      const node = this.createNode(id);
      node.disk.applySnapshot(structuredClone(meta));
      node.disk.setHardState({ term: 1, vote: 0, commit: 1 });
      node.setDiskImage(image);
    }
  }

  private createNode(id: NodeId): SimNode {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    const node = new SimNode(id);
    this.nodes.set(id, node);
    return node;
  }

  private startNode(node: SimNode): void {
    const core = node.start(this.options.core, this.rng);
    const snap = node.disk.snapshotMeta();
    this.checker.onConfAt(node.id, snap.index, snap.conf.members, "the snapshot on disk");
    // The core rebuilt its configuration from the snapshot plus EVERY conf entry in its log (thesis §4.1: the
    // stored commit may lag). Its committed part must be the true configuration at the commit index, and the whole
    // must be exactly what the log on disk says.
    const status = core.status();
    let committedConf = snap.conf;
    let latestConf = snap.conf;
    const last = node.disk.lastIndex();
    for (const e of last >= node.disk.firstIndex() ? node.disk.entries(node.disk.firstIndex(), last + 1, Number.MAX_SAFE_INTEGER) : []) {
      if (e.kind !== "conf") continue;
      latestConf = applyConfChange(latestConf, e.change);
      if (e.index <= status.commit) committedConf = latestConf;
    }
    this.checker.onConfAt(node.id, status.commit, committedConf.members, "the restarted core's committed log");
    this.checker.expectSameConf(node.id, status.members, latestConf.members, "the restarted core vs. the latest configuration in its log");
    if (node.store.appliedIndex !== snap.index) this.checker.fail(`node ${node.id}: store restarted at ${node.store.appliedIndex}, snapshot at ${snap.index}`);
    this.checker.onRevision(node.id, snap.index, node.store.revision, "a restart from the snapshot on disk");
    this.trace(`start n${node.id} (incarnation ${node.incarnation}, term ${node.disk.hardState.term}, last ${node.disk.lastIndex()})`);
    this.pump(node);
  }

  // ---- queries ----

  ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.up);
  }

  /** leader is the up node that believes it leads the highest term, or null. */
  leader(connectedOnly = false): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.nodes.values()) {
      const core = node.core;
      if (!core || core.role !== "leader") continue;
      if (connectedOnly && this.isolated.has(node.id)) continue;
      if (!best || core.term > (best.core?.term ?? 0)) best = node;
    }
    return best;
  }

  /** nCommitted counts nodes (up or down) whose state machine reached `index`. */
  nCommitted(index: Index): number {
    let n = 0;
    for (const node of this.nodes.values()) if (node.up && node.applied >= index) n++;
    return n;
  }

  maxTerm(): number {
    let term = 0;
    for (const node of this.nodes.values()) term = Math.max(term, node.core?.term ?? node.disk.hardState.term);
    return term;
  }

  // ---- time ----

  /** tick advances the virtual clock by one: durable writes land, packets arrive, cores tick. */
  tick(): void {
    this.now++;
    this.checker.now = this.now;
    const deferred = this.deferred;
    this.deferred = [];
    for (const run of deferred) run();
    for (const node of this.nodes.values()) {
      if (node.persisting && node.persisting.doneAt <= this.now) {
        this.finishPersist(node);
        this.pump(node);
      }
    }
    const { packets, cut } = this.net.due(this.now);
    for (const p of cut) this.dropped(p);
    for (const p of packets) this.deliver(p);
    for (const node of this.rng.shuffle(this.upNodes())) {
      node.core?.tick();
      if (this.driver === "runtime") this.sendEarly(node);
      this.pump(node);
    }
  }

  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.tick();
  }

  /** runUntil ticks until `done()` holds or `ticksMax` ticks passed; returns whether it holds. */
  runUntil(done: () => boolean, ticksMax: number): boolean {
    for (let i = 0; i < ticksMax; i++) {
      if (done()) return true;
      this.tick();
    }
    return done();
  }

  // ---- the Ready loop ----

  /** pump handles Readys until the core has none or one is being persisted (then it waits for the disk). */
  private pump(node: SimNode): void {
    for (let guard = 0; node.core && !node.persisting && node.core.hasReady(); guard++) {
      if (guard > 10_000) this.checker.fail(`node ${node.id}: hasReady() never settles`);
      const rd = node.core.ready();
      this.checkReady(node, rd);
      for (const m of rd.messages) this.send(node, m);
      if (this.driver === "runtime") {
        this.startRuntimeReady(node, rd);
        continue;
      }
      const delay = this.rng.int(this.persistTicksMax + 1);
      node.persisting = { ready: rd, doneAt: this.now + delay, snapshotWritten: false, applyWhileSaving: false };
      if (delay === 0) this.finishPersist(node);
    }
    this.observe(node);
  }

  /**
   * startRuntimeReady handles a Ready as runtime.ts does: the snapshot is installed (disk and state machine)
   * before the write starts; `committed` is applied and the reads handed out while the write runs; a batch
   * with nothing to sync finishes at once. Entries committed during the write come from takeCommitted (deliver).
   */
  private startRuntimeReady(node: SimNode, rd: Ready): void {
    if (rd.snapshot) {
      this.installSnapshotOnDisk(node, rd.snapshot);
      this.restore(node, rd.snapshot);
    }
    for (const e of rd.committed) this.apply(node, e);
    for (const rs of rd.readStates) this.readState(node, rs);
    this.serveReads(node);
    const delay = rd.mustSync ? this.rng.int(this.persistTicksMax + 1) : 0;
    node.persisting = { ready: rd, doneAt: this.now + delay, snapshotWritten: rd.snapshot !== null, applyWhileSaving: rd.mustSync && rd.snapshot === null };
    if (delay === 0) this.finishPersist(node);
  }

  /** applyTaken applies what takeCommitted hands out while a Ready's write runs (runtime.ts's applyTaken). */
  private applyTaken(node: SimNode): void {
    if (!node.core || !node.persisting?.applyWhileSaving) return;
    const entries = node.core.takeCommitted();
    for (const e of entries) this.apply(node, e);
    if (entries.length > 0) this.serveReads(node);
  }

  /** sendEarly sends what takeMessages hands out while a Ready's write runs (runtime.ts's scheduleSendEarly). */
  private sendEarly(node: SimNode): void {
    if (!node.core || !node.persisting) return;
    for (const m of node.core.takeMessages()) {
      this.checkPromise(node, m, "takeMessages");
      this.send(node, m);
    }
  }

  /** checkReady: hard state moves forward; what `messages` promise must already be durable. */
  private checkReady(node: SimNode, rd: Ready): void {
    const hs = rd.hardState;
    if (hs) {
      const last = node.lastHardState;
      if (hs.term < last.term) this.checker.fail(`node ${node.id}: term went back ${last.term} → ${hs.term}`);
      if (hs.commit < last.commit) this.checker.fail(`node ${node.id}: commit went back ${last.commit} → ${hs.commit}`);
      if (hs.term === last.term && last.vote !== 0 && hs.vote !== last.vote) this.checker.fail(`node ${node.id}: vote changed in term ${hs.term}`);
      node.lastHardState = { ...hs };
    }
    for (const m of rd.messages) this.checkPromise(node, m, "messages");
  }

  /** checkPromise: a vote grant or append ack is only sent once what it promises is on disk (§3.8). */
  private checkPromise(node: SimNode, m: Message, where: string): void {
    const disk = node.disk;
    if (m.type === "vote_resp" && !m.reject) {
      // A durable later term also keeps the promise: this node can never vote in m.term again.
      const durable = disk.hardState.term > m.term || (disk.hardState.term === m.term && disk.hardState.vote === m.to);
      if (!durable) {
        this.checker.fail(`node ${node.id} granted its term-${m.term} vote to ${m.to} in ${where} before persisting it (disk: term ${disk.hardState.term}, vote ${disk.hardState.vote})`);
      }
      this.checker.onVote(node.id, m.term, m.to, "vote grant sent");
    }
    if (m.type === "append_resp" && !m.reject && m.index > disk.lastIndex()) {
      this.checker.fail(`node ${node.id} acked index ${m.index} in ${where} but only ${disk.lastIndex()} is durable`);
    }
  }

  /** finishPersist: the Ready is durable; send what waited for it, apply, hand out reads, advance. */
  private finishPersist(node: SimNode): void {
    const core = node.core;
    const persisting = node.persisting;
    if (!core || !persisting) return;
    const rd = persisting.ready;
    node.persisting = null;
    this.writeReady(node, persisting, Number.MAX_SAFE_INTEGER);
    for (const m of rd.messagesAfterPersist) {
      this.checkPromise(node, m, "messagesAfterPersist");
      this.send(node, m);
    }
    if (this.driver === "runtime") {
      // Applied and handed out while the write ran (startRuntimeReady, applyTaken).
      core.advance(rd);
      return;
    }
    if (rd.snapshot) this.restore(node, rd.snapshot);
    for (const e of rd.committed) this.apply(node, e);
    for (const rs of rd.readStates) this.readState(node, rs);
    core.advance(rd);
    this.serveReads(node);
  }

  /**
   * writeReady makes the first `parts` writes of a Ready durable, in the order a disk does them:
   * snapshot, then each entry, then the hard state. A crash mid-persist passes fewer parts (a torn write).
   */
  private writeReady(node: SimNode, persisting: Persisting, parts: number): void {
    const rd = persisting.ready;
    let budget = parts;
    const disk = node.disk;
    if (rd.snapshot && !persisting.snapshotWritten) {
      if (budget-- <= 0) return;
      this.installSnapshotOnDisk(node, rd.snapshot);
    }
    if (rd.entries.length > 0) {
      const count = Math.min(budget, rd.entries.length);
      if (count <= 0) return;
      const written = rd.entries.slice(0, count);
      for (const e of written) {
        if (e.index <= disk.hardState.commit && disk.term(e.index) !== e.term) {
          this.checker.fail(`node ${node.id} overwrites committed index ${e.index} (term ${disk.term(e.index)} → ${e.term})`);
        }
      }
      disk.append(written);
      for (const e of written) this.checker.onLogEntry(node.id, e, disk.term(e.index - 1));
      budget -= count;
      if (count < rd.entries.length) return;
    }
    if (rd.hardState) {
      if (budget <= 0) return;
      const before = disk.hardState;
      disk.setHardState(rd.hardState);
      this.checker.onDurableHardState(node.id, before, rd.hardState);
      if (rd.hardState.commit > disk.lastIndex()) this.checker.fail(`node ${node.id}: durable commit ${rd.hardState.commit} beyond durable log ${disk.lastIndex()}`);
    }
  }

  private installSnapshotOnDisk(node: SimNode, meta: SnapshotMeta): void {
    const image = node.staged.get(`${meta.index}:${meta.term}`);
    if (!image) return this.checker.fail(`node ${node.id}: Ready.snapshot ${meta.index}:${meta.term} was never received`);
    if (image.length !== meta.index + 1) this.checker.fail(`snapshot ${meta.index} has an image of ${image.length - 1} entries`);
    if (!image[meta.index]?.startsWith(`${meta.term}:`)) this.checker.fail(`snapshot ${meta.index}:${meta.term} image ends with ${image[meta.index]}`);
    node.disk.applySnapshot(meta);
    node.setDiskImage(image);
    for (const key of node.staged.keys()) if (Number(key.split(":")[0]) <= meta.index) node.staged.delete(key);
  }

  /** restore replaces the state machine with the snapshot just persisted; it must move it forward. */
  private restore(node: SimNode, meta: SnapshotMeta): void {
    if (meta.index <= node.applied) this.checker.fail(`node ${node.id}: snapshot ${meta.index} does not move applied ${node.applied} forward`);
    const image = node.diskImage;
    for (let i = 1; i <= meta.index; i++) this.checker.onApply(node.id, i, image[i] as string);
    node.sm = [...image];
    node.store = SimStore.fromImage(image);
    this.checker.onRevision(node.id, meta.index, node.store.revision, "an installed snapshot");
    node.conf = meta.conf;
    this.checker.onConfAt(node.id, meta.index, meta.conf.members, "an installed snapshot");
    for (const index of node.proposals.keys()) if (index <= meta.index) node.proposals.delete(index);
    if (meta.index > node.lastHardState.commit) node.lastHardState = { ...node.lastHardState, commit: meta.index };
    this.stats.snapshotsInstalled++;
    this.trace(`n${node.id} installed snapshot ${meta.index}:${meta.term}`);
  }

  /** apply feeds one committed entry to the state machine: in order, durable, and the same everywhere. */
  private apply(node: SimNode, e: Entry): void {
    if (e.index !== node.applied + 1) this.checker.fail(`node ${node.id} applies index ${e.index} after ${node.applied}`);
    if (this.driver === "ready") {
      if (e.index > node.lastHardState.commit) this.checker.fail(`node ${node.id} applies index ${e.index} beyond its commit ${node.lastHardState.commit}`);
      if (node.disk.term(e.index) !== e.term) this.checker.fail(`node ${node.id} applies index ${e.index} (term ${e.term}) that is not durable`);
    } else {
      // The runtime applies committed entries before its own write finishes: committed means durable on a
      // majority (a leader counts itself only once durable). The entry must still be the core's, and committed.
      const core = node.core;
      if (!core) return this.checker.fail(`node ${node.id} applies index ${e.index} while down`);
      if (e.index > core.log.committed) this.checker.fail(`node ${node.id} applies index ${e.index} beyond its commit ${core.log.committed}`);
      if (core.log.term(e.index) !== e.term) this.checker.fail(`node ${node.id} applies index ${e.index} (term ${e.term}) that its log does not hold`);
    }
    const identity = entryIdentity(e);
    this.checker.onApply(node.id, e.index, identity);
    node.sm.push(identity);
    const skipWrite = this.options.plantSkipRevision === true && node.id === 2 && e.index % 11 === 0;
    node.store.apply(e.index, identity, skipWrite);
    this.checker.onRevision(node.id, e.index, node.store.revision, "an applied entry");
    if (e.kind === "conf") {
      node.applyConf(e.change);
      this.checker.onConfApplied(node.id, e.index, node.conf);
    }
    const proposal = node.proposals.get(e.index);
    if (proposal) {
      node.proposals.delete(e.index);
      if (proposal.term === e.term) {
        if (e.kind !== "normal" || payloadOf(e.data) !== proposal.payload) {
          this.checker.fail(`node ${node.id}: proposal ${proposal.payload} accepted at ${e.index}:${e.term}, but ${identity} was applied there`);
        }
        this.checker.onAck(e.index);
        this.stats.acked++;
      }
    }
    this.onApplied?.(node, e);
  }

  private readState(node: SimNode, rs: ReadState): void {
    const read = this.reads.get(rs.ctx);
    if (!read) return; // a duplicated request may be answered twice; the first answer counts
    if (read.node !== node.id) this.checker.fail(`read ${rs.ctx} of node ${read.node} answered on node ${node.id}`);
    this.reads.delete(rs.ctx);
    if (rs.index < 0) {
      this.stats.readsFailed++;
      this.readsDone.set(rs.ctx, "failed");
      return;
    }
    this.checker.onReadState(node.id, rs.ctx, rs.index, read.minIndex);
    node.waitingReads.push({ ctx: rs.ctx, index: rs.index });
  }

  private serveReads(node: SimNode): void {
    if (node.waitingReads.length === 0) return;
    const still: Array<{ ctx: string; index: Index }> = [];
    for (const r of node.waitingReads) {
      if (r.index <= node.applied) {
        this.stats.readsServed++;
        this.readsDone.set(r.ctx, "served");
      } else {
        still.push(r);
      }
    }
    node.waitingReads = still;
  }

  /** observe: election safety and monotonic commit, after every event on a node. */
  private observe(node: SimNode): void {
    const core = node.core;
    if (!core) return;
    if (core.role === "leader") {
      this.checker.onLeader(node.id, core.term);
      // A leader is a voter of its own configuration: learners never lead, a removed leader steps down.
      if (!core.membership.isVoter(node.id)) this.checker.fail(`node ${node.id} leads term ${core.term} but is not a voter of its configuration`);
      if (node.ledTerm !== core.term) {
        node.ledTerm = core.term;
        this.checker.onLeaderLog(node.id, core.term, core.log.firstIndex(), (index) => core.log.term(index));
      }
    }
    if (core.log.committed < node.seenCommit) this.checker.fail(`node ${node.id}: commit went back ${node.seenCommit} → ${core.log.committed}`);
    node.seenCommit = core.log.committed;
    if (this.options.trace && (core.role !== node.seenRole || core.term !== node.seenTerm)) {
      node.seenRole = core.role;
      node.seenTerm = core.term;
      this.trace(`n${node.id} ${core.role} term ${core.term} (last ${core.log.lastIndex()}:${core.log.lastTerm()}, commit ${core.log.committed})`);
    }
  }

  // ---- the wire ----

  private send(node: SimNode, m: Message): void {
    // A message speaks for its term: it leaves only once that term is durable here (a restart could otherwise
    // lead or vote in the same term again). Pre-votes carry the future term they ask about, and grants echo it.
    if (m.type !== "pre_vote" && m.type !== "pre_vote_resp" && m.term > node.disk.hardState.term) {
      this.checker.fail(`node ${node.id} sends ${m.type} of term ${m.term} to ${m.to} before persisting the term (disk: term ${node.disk.hardState.term})`);
    }
    let image = null;
    if (m.type === "snapshot") {
      image = node.retainedImage(m.snapshot.index, m.snapshot.term);
      if (!image) {
        // The snapshot was compacted over since the core chose it: the transfer fails, the core retries.
        const incarnation = node.incarnation;
        this.deferred.push(() => this.reportSnapshot(m.from, m.to, false, incarnation));
        return;
      }
      this.stats.snapshotsSent++;
    }
    const outcome = this.net.send(this.now, copyMessage(m), image, node.incarnation);
    if (outcome === "queued") return;
    const incarnation = node.incarnation;
    if (m.type === "snapshot") {
      this.deferred.push(() => this.reportSnapshot(m.from, m.to, false, incarnation));
    } else if (outcome === "cut" && this.rng.chance(0.2)) {
      this.deferred.push(() => this.reportUnreachable(m.from, m.to, incarnation));
    }
  }

  private deliver(p: Packet): void {
    const to = this.nodes.get(p.msg.to);
    if (!to?.core) return this.dropped(p);
    if (p.msg.type === "snapshot" && p.image) to.staged.set(`${p.msg.snapshot.index}:${p.msg.snapshot.term}`, p.image);
    to.core.step(p.msg);
    if (this.driver === "runtime") {
      this.applyTaken(to);
      this.sendEarly(to);
    }
    this.pump(to);
    if (p.msg.type === "snapshot") this.reportSnapshot(p.msg.from, p.msg.to, true, p.incarnation);
  }

  private dropped(p: Packet): void {
    if (p.msg.type === "snapshot") this.reportSnapshot(p.msg.from, p.msg.to, false, p.incarnation);
  }

  private reportSnapshot(from: NodeId, to: NodeId, ok: boolean, incarnation: number): void {
    const sender = this.nodes.get(from);
    if (!sender?.core || sender.incarnation !== incarnation) return;
    sender.core.reportSnapshot(to, ok);
    this.pump(sender);
  }

  private reportUnreachable(from: NodeId, to: NodeId, incarnation: number): void {
    const sender = this.nodes.get(from);
    if (!sender?.core || sender.incarnation !== incarnation) return;
    sender.core.reportUnreachable(to);
    this.pump(sender);
  }

  // ---- faults ----

  /** crash kills a node: a Ready being persisted is torn at a random point; everything volatile is lost. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    const persisting = node.persisting;
    if (persisting) {
      const rd = persisting.ready;
      const parts = (rd.snapshot && !persisting.snapshotWritten ? 1 : 0) + rd.entries.length + (rd.hardState ? 1 : 0);
      this.writeReady(node, persisting, this.rng.int(parts + 1));
    }
    if (this.options.plantForgetVote) node.disk.hardState = { ...node.disk.hardState, vote: 0 };
    node.stop();
    node.crashes++;
    this.stats.crashes++;
    this.trace(`crash n${id}`);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.up || node.retired) return;
    this.startNode(node);
  }

  /** addNode starts a brand-new server with an empty disk (it joins once a leader adds it). */
  addNode(id: NodeId): SimNode {
    const node = this.createNode(id);
    this.startNode(node);
    return node;
  }

  /** retire stops a removed server for good. */
  retire(id: NodeId): void {
    const node = this.node(id);
    this.crash(id);
    node.retired = true;
    this.trace(`retire n${id}`);
  }

  compact(id: NodeId): boolean {
    const node = this.node(id);
    if (!node.up || !node.compact()) return false;
    this.stats.compactions++;
    return true;
  }

  /** disconnect cuts every link to and from a node (the MIT lab's disconnect). */
  disconnect(id: NodeId): void {
    this.isolated.add(id);
    this.net.isolate(id, this.ids());
    this.trace(`disconnect n${id}`);
  }

  /** connect restores a node's links to every node that is itself connected. */
  connect(id: NodeId): void {
    this.isolated.delete(id);
    for (const other of this.ids()) {
      if (other === id || this.isolated.has(other)) continue;
      this.net.unblock(id, other);
      this.net.unblock(other, id);
    }
    this.trace(`connect n${id}`);
  }

  connected(id: NodeId): boolean {
    return !this.isolated.has(id);
  }

  // ---- clients ----

  /** propose a client write on node `id`; accepted writes are acknowledged when that node applies them. */
  propose(id: NodeId, payload = `w${++this.writeSeq}`): ProposeResult {
    const node = this.node(id);
    if (!node.core) return { ok: false, error: "no_leader", leaderId: 0 };
    const role = node.core.role;
    const result = node.core.propose(encoder.encode(payload));
    // Only a leader accepts; anyone else refuses and names the leader it knows (§6.2), never drops silently.
    if (result.ok && role !== "leader") this.checker.fail(`node ${id} (${role}) accepted a proposal`);
    if (!result.ok && result.error === "not_leader" && result.leaderId !== node.core.leaderId) {
      this.checker.fail(`node ${id} refused a proposal naming leader ${result.leaderId}, but it follows ${node.core.leaderId}`);
    }
    if (result.ok) {
      node.proposals.set(result.index, { term: result.term, payload });
      this.stats.proposed++;
    }
    if (this.driver === "runtime") this.sendEarly(node);
    this.pump(node);
    return result;
  }

  proposeConf(id: NodeId, change: ConfChange): ProposeResult {
    const node = this.node(id);
    if (!node.core) return { ok: false, error: "no_leader", leaderId: 0 };
    const result = node.core.proposeConfChange(change);
    if (this.driver === "runtime") this.sendEarly(node);
    this.pump(node);
    this.trace(`n${id} propose ${change.type} ${change.id}: ${result.ok ? `at ${result.index}` : result.error}`);
    return result;
  }

  /** campaign forces node `id` to start an election now (an operator's or a test's nudge). */
  campaign(id: NodeId): void {
    const node = this.node(id);
    if (!node.core) return;
    node.core.campaign();
    this.pump(node);
    this.trace(`campaign n${id}`);
  }

  /** transfer asks node `from` (a leader) to hand leadership to `to`. */
  transfer(from: NodeId, to: NodeId): boolean {
    const node = this.node(from);
    if (!node.core) return false;
    const result = node.core.transferLeadership(to);
    this.pump(node);
    this.trace(`transfer n${from} → n${to}: ${result.ok ? "ok" : result.error}`);
    return result.ok;
  }

  /** readOutcome says how the read `ctx` (from read()) ended so far. */
  readOutcome(ctx: string): "pending" | "served" | "failed" {
    return this.readsDone.get(ctx) ?? "pending";
  }

  /** read issues a ReadIndex read on node `id` (it must see every write acknowledged before now); returns its ctx or null. */
  read(id: NodeId): string | null {
    const node = this.node(id);
    if (!node.core) return null;
    const ctx = `r${++this.readSeq}`;
    const result = node.core.readIndex(ctx);
    if (result.ok) {
      this.reads.set(ctx, { node: id, minIndex: this.checker.maxAckedIndex });
      this.stats.readsIssued++;
    }
    this.pump(node);
    return result.ok ? ctx : null;
  }

  /**
   * commitOne is the lab's one(): propose `payload` through whoever leads until `expected` up nodes
   * applied it; returns its index, or -1 when `ticksMax` ran out.
   */
  commitOne(payload: string, expected: number, ticksMax: number): Index {
    const deadline = this.now + ticksMax;
    let pending: { node: SimNode; index: Index; incarnation: number; since: number } | null = null;
    const identityAt = (index: Index) => this.checker.committed[index];
    while (this.now < deadline) {
      if (pending) {
        const applied = identityAt(pending.index);
        if (applied !== undefined && applied.endsWith(`:w:${payload}`)) {
          if (this.nCommitted(pending.index) >= expected) return pending.index;
        } else if (
          applied !== undefined ||
          !pending.node.up ||
          pending.node.incarnation !== pending.incarnation ||
          (this.leader(true) ?? pending.node) !== pending.node ||
          this.now - pending.since > 20 * this.options.core.electionTicks
        ) {
          pending = null; // lost: overwritten, proposer crashed, or stuck for long; propose again
        }
      }
      if (!pending) {
        const leader = this.leader(true);
        if (leader) {
          const result = this.propose(leader.id, payload);
          if (result.ok) pending = { node: leader, index: result.index, incarnation: leader.incarnation, since: this.now };
        }
      }
      this.tick();
    }
    return -1;
  }

  /** later runs `fn` at the start of the next tick (outside of any core call in progress). */
  later(fn: () => void): void {
    this.deferred.push(fn);
  }

  // ---- trace ----

  trace(line: string): void {
    if (!this.options.trace) return;
    this.traceLines.push(`[${this.now}] ${line}`);
    if (this.traceLines.length > TRACE_LINES_MAX) this.traceLines.shift();
  }

  traceDump(): string[] {
    return [...this.traceLines];
  }
}
