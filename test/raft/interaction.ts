// The interaction driver for the golden scripts in testdata/ (etcd-io/raft's interaction tests, in small): a few
// RaftCores over MemoryStorage, a message queue the script delivers by hand, and describe* functions that print
// everything the core hands out as deterministic text. Commands (one per block, arguments as key=value):
//   add-nodes voters=1,2,3 [learners=4] [prevote=false] [checkquorum=false]   nodes with that configuration at index 1
//   add-node ID                                   an empty node (it joins once a leader adds it)
//   campaign ID | tick ID [n=1] | tick-election ID   start an election / tick n times / tick until the timeout passed
//   propose ID DATA | conf-change ID TYPE TARGET | transfer ID TARGET | read-index ID CTX
//   process-ready [ID...]      take, print, persist and advance one Ready on each node (all when none given)
//   deliver-msgs [ID...] [drop=true]   step (or drop) the queued messages to those nodes, printing each
//   stabilize [ID...]          process-ready and deliver-msgs until nothing is left
//   isolate ID | heal          drop every message to and from ID / stop dropping
//   compact ID INDEX           snapshot the node's log at INDEX (its storage drops the prefix)
//   status [ID...]             one line per node: role, term, leader, commit, applied, last index, members
import { MemoryStorage } from "../../src/raft/memory_storage.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { createRand } from "../../src/raft/rand.ts";
import type { ConfChange, Entry, HardState, Message, NodeId, RaftConfig, Ready, SnapshotMeta } from "../../src/raft/types.ts";
import { confOf, member } from "./harness.ts";

const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

export function describeEntry(e: Entry): string {
  const at = `${e.term}/${e.index}`;
  if (e.kind === "normal") return `${at} ${JSON.stringify(dec(e.data))}`;
  if (e.kind === "noop") return `${at} noop`;
  return `${at} conf ${e.change.type} ${e.change.id}`;
}

function describeEntries(entries: Entry[]): string {
  return `[${entries.map(describeEntry).join(", ")}]`;
}

function describeSnapshot(s: SnapshotMeta): string {
  const members = s.conf.members.map((m) => `${m.id}${m.role === "learner" ? "(learner)" : ""}`).join(",");
  return `index=${s.index} term=${s.term} members=${members}`;
}

/** describeMessage prints one message in one line: "from->to type term=T" and its own fields. */
export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case "pre_vote":
    case "vote":
      return `${head} last=${m.lastTerm}/${m.lastIndex}${m.type === "vote" && m.transfer ? " transfer" : ""}`;
    case "pre_vote_resp":
    case "vote_resp":
      return `${head}${m.reject ? " reject" : ""}`;
    case "append":
      return `${head} prev=${m.prevTerm}/${m.prevIndex} commit=${m.commit} entries=${describeEntries(m.entries)}`;
    case "append_resp":
      return `${head} index=${m.index}${m.reject ? ` reject hint=${m.hintTerm}/${m.hintIndex}` : ""}`;
    case "heartbeat":
      return `${head} commit=${m.commit}${m.ctx === "" ? "" : ` ctx=${m.ctx}`}`;
    case "heartbeat_resp":
      return `${head}${m.ctx === "" ? "" : ` ctx=${m.ctx}`}`;
    case "snapshot":
      return `${head} snapshot ${describeSnapshot(m.snapshot)}`;
    case "timeout_now":
      return head;
    case "read_index":
      return `${head} ctx=${m.ctx}`;
    case "read_index_resp":
      return `${head} ctx=${m.ctx} index=${m.index}`;
  }
}

function describeHardState(hs: HardState): string {
  return `term=${hs.term} vote=${hs.vote} commit=${hs.commit}`;
}

/** describeReady prints a Ready field by field, leaving out the empty ones. */
export function describeReady(rd: Ready): string[] {
  const out: string[] = [];
  if (rd.hardState) out.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.snapshot) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.entries.length > 0) out.push(`Entries ${describeEntries(rd.entries)}`);
  if (rd.committed.length > 0) out.push(`Committed ${describeEntries(rd.committed)}`);
  if (rd.messages.length > 0) out.push("Messages:", ...rd.messages.map((m) => `  ${describeMessage(m)}`));
  if (rd.messagesAfterPersist.length > 0) out.push("MessagesAfterPersist:", ...rd.messagesAfterPersist.map((m) => `  ${describeMessage(m)}`));
  if (rd.readStates.length > 0) out.push(`ReadStates ${rd.readStates.map((r) => `${r.ctx}@${r.index}`).join(", ")}`);
  if (!rd.mustSync) out.push("(no sync)");
  return out;
}

interface Node {
  id: NodeId;
  core: RaftCore;
  storage: MemoryStorage;
}

/** Interaction runs one script's commands against one set of nodes; run() returns a command's output. */
export class Interaction {
  private readonly nodes = new Map<NodeId, Node>();
  private queue: Message[] = [];
  private isolated = new Set<NodeId>();
  private options: Pick<RaftConfig, "preVote" | "checkQuorum"> = { preVote: true, checkQuorum: true };

  run(line: string): string[] {
    const [cmd = "", ...rest] = line.trim().split(/\s+/);
    const args = rest.filter((a) => !a.includes("="));
    const kv = new Map(rest.filter((a) => a.includes("=")).map((a) => a.split("=", 2) as [string, string]));
    const ids = (): NodeId[] => (args.length > 0 ? args.map(Number) : [...this.nodes.keys()]);
    switch (cmd) {
      case "add-nodes": {
        const voters = (kv.get("voters") ?? "").split(",").filter(Boolean).map(Number);
        const learners = (kv.get("learners") ?? "").split(",").filter(Boolean).map(Number);
        this.options = { preVote: kv.get("prevote") !== "false", checkQuorum: kv.get("checkquorum") !== "false" };
        for (const id of [...voters, ...learners]) this.addNode(id, { index: 1, term: 1, conf: confOf(voters, learners) });
        return this.status([...voters, ...learners]);
      }
      case "add-node":
        this.addNode(Number(args[0]), { index: 0, term: 0, conf: { members: [] } });
        return this.status([Number(args[0])]);
      case "campaign":
        this.core(args[0]).campaign();
        return this.status([Number(args[0])]);
      case "tick": {
        const times = Number(kv.get("n") ?? 1);
        for (let i = 0; i < times; i++) this.core(args[0]).tick();
        return this.status([Number(args[0])]);
      }
      case "tick-election": {
        // Twice the election timeout is always beyond the randomized one ([electionTicks, 2*electionTicks)).
        const core = this.core(args[0]);
        for (let i = 0; i < 2 * this.config(1).electionTicks; i++) core.tick();
        return this.status([Number(args[0])]);
      }
      case "propose":
        return [this.result(this.core(args[0]).propose(enc(args[1] ?? "")))];
      case "conf-change": {
        const target = Number(args[2]);
        const change: ConfChange = { type: args[1] as ConfChange["type"], id: target, raftAddr: member(target).raftAddr, httpAddr: member(target).httpAddr };
        return [this.result(this.core(args[0]).proposeConfChange(change))];
      }
      case "transfer":
        return [this.result(this.core(args[0]).transferLeadership(Number(args[1])))];
      case "read-index":
        return [this.result(this.core(args[0]).readIndex(args[1] ?? ""))];
      case "process-ready":
        return ids().flatMap((id) => this.processReady(id));
      case "deliver-msgs":
        return this.deliver(new Set(ids()), kv.get("drop") === "true");
      case "stabilize":
        return this.stabilize(new Set(ids()));
      case "isolate":
        this.isolated.add(Number(args[0]));
        return [];
      case "heal":
        this.isolated.clear();
        return [];
      case "compact": {
        const node = this.node(Number(args[0]));
        const index = Number(args[1]);
        node.storage.compact(index, node.core.softState().membership.conf);
        return [`snapshot ${describeSnapshot(node.storage.snapshotMeta())}`];
      }
      case "status":
        return this.status(ids());
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }

  private config(id: NodeId): RaftConfig {
    const storage = this.nodes.get(id)?.storage ?? new MemoryStorage();
    return {
      id,
      log: storage,
      hardState: storage.hardState,
      applied: storage.snapshotMeta().index,
      electionTicks: 10,
      heartbeatTicks: 1,
      rand: createRand(id),
      maxInflight: 64,
      maxBytesPerMessage: 1 << 20,
      maxEntriesPerMessage: 64,
      maxUncommittedEntries: 10_000,
      ...this.options,
    };
  }

  private addNode(id: NodeId, snapshot: SnapshotMeta): void {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    const storage = new MemoryStorage();
    storage.applySnapshot(snapshot);
    storage.setHardState({ term: snapshot.term, vote: 0, commit: snapshot.index });
    this.nodes.set(id, { id, core: null as unknown as RaftCore, storage });
    this.node(id).core = new RaftCore(this.config(id));
  }

  private node(id: NodeId): Node {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  private core(id: string | undefined): RaftCore {
    return this.node(Number(id)).core;
  }

  private result(r: { ok: boolean } & Record<string, unknown>): string {
    if (r.ok) return "ok" + ("index" in r ? ` index=${String(r.index)} term=${String(r.term)}` : "");
    return `refused ${String(r.error)} leader=${String(r.leaderId)}`;
  }

  private status(ids: NodeId[]): string[] {
    return ids.map((id) => {
      const s = this.node(id).core.status();
      const members = s.members.map((m) => `${m.id}${m.role === "learner" ? "(learner)" : ""}`).join(",");
      return `${id}: ${s.role} term=${s.term} leader=${s.leaderId} commit=${s.commit} applied=${s.applied} last=${s.lastIndex} members=${members}`;
    });
  }

  /** processReady follows the Ready contract: queue messages, persist, queue the rest, advance. */
  private processReady(id: NodeId): string[] {
    const node = this.node(id);
    if (!node.core.hasReady()) return [];
    const rd = node.core.ready();
    this.queue.push(...rd.messages);
    if (rd.snapshot) node.storage.applySnapshot(rd.snapshot);
    node.storage.append(rd.entries);
    if (rd.hardState) node.storage.setHardState(rd.hardState);
    this.queue.push(...rd.messagesAfterPersist);
    node.core.advance(rd);
    return [`> ${id} handling Ready`, ...describeReady(rd).map((l) => `  ${l}`)];
  }

  private deliver(to: Set<NodeId>, drop: boolean): string[] {
    const out: string[] = [];
    const keep: Message[] = [];
    for (const m of this.queue) {
      if (!to.has(m.to)) {
        keep.push(m);
        continue;
      }
      const cut = drop || this.isolated.has(m.from) || this.isolated.has(m.to) || !this.nodes.has(m.to);
      out.push(`${cut ? "dropped" : "deliver"} ${describeMessage(m)}`);
      if (cut) continue;
      this.node(m.to).core.step(m);
      // A snapshot message arrives with its data here: report the transfer done to the sender.
      if (m.type === "snapshot") this.nodes.get(m.from)?.core.reportSnapshot(m.to, true);
    }
    this.queue = keep;
    return out;
  }

  private stabilize(ids: Set<NodeId>): string[] {
    const out: string[] = [];
    for (let round = 0; round < 1000; round++) {
      const before = out.length;
      for (const id of ids) out.push(...this.processReady(id));
      out.push(...this.deliver(ids, false));
      if (out.length === before) return out;
    }
    throw new Error("stabilize: no quiescence after 1000 rounds");
  }
}
