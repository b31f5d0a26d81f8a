import {
  check,
  CheckError,
  checkHistory,
  Cluster,
  describeAnswers,
  fastFlags,
  findLostWrites,
  recordHistory,
  request,
  startWriters,
  waitFor,
  type ClusterOptions,
  type History,
  type NodeHandle,
  type StartMode,
  type Writers,
} from "../../scenarios/harness.ts";
import { LinkProxy } from "./link_proxy.ts";

// partition_harness.ts: what the partition tests (partition_*.test.ts) share on top of scenarios/harness.ts:
// a cluster whose every Raft link runs through the LinkProxy, a watcher that records term → leader from every
// node's /status, the load (unique-key writers and a read/write history) and the end-of-test checks.

/** partitionFlags: fast elections, and requests that give up soon on a node that lost its quorum. */
export const partitionFlags = [...fastFlags, "--request-timeout-ms", "2000"];

/** loadMaxMs: the watcher and probe loops end by themselves after this long, whatever happens to the test. */
const loadMaxMs = 60_000;

export interface PartitionClusterOptions extends ClusterOptions {
  /** nodeArgs: flags for one node only, after the common ones (the last of a repeated flag wins). */
  nodeArgs?: Record<number, string[]>;
}

/** PartitionCluster: a Cluster whose nodes advertise their proxy's address, so `links` can cut any direction. */
export class PartitionCluster extends Cluster {
  readonly links = new LinkProxy();
  private readonly advertised = new Map<number, string>();
  private readonly nodeArgs: Record<number, string[]>;

  constructor(options: PartitionClusterOptions) {
    super(options);
    this.nodeArgs = options.nodeArgs ?? {};
    for (const id of this.ids) this.advertised.set(id, this.links.listen(id, () => this.node(id).raftAddr));
  }

  /** proxyAddr: the Raft address node `id` advertises (its proxy). */
  proxyAddr(id: number): string {
    return this.advertised.get(id)!;
  }

  override start(id: number, mode: StartMode = {}): Promise<NodeHandle> {
    const extraArgs = [...(this.nodeArgs[id] ?? []), ...(mode.extraArgs ?? []), "--advertise-raft-addr", this.proxyAddr(id)];
    return super.start(id, { ...mode, extraArgs });
  }

  override async diagnostics(logLines = 20): Promise<string> {
    return `${await super.diagnostics(logLines)}\nlink proxy: ${this.links.describe()}`;
  }

  override async destroy(options: { keepFiles?: boolean } = {}): Promise<void> {
    await super.destroy(options);
    this.links.close();
  }

  /** checkCutBit: the proxy really dropped bytes on each link `from` → `to` (the cut was in the path). */
  checkCutBit(from: number, to: number[]): void {
    for (const t of to) check(this.links.stats(from, t).droppedBytes > 0, `the cut ${from}->${t} dropped bytes (${this.links.describe()})`);
  }

  /** checkProxied: every member of node `via`'s configuration is reached through its proxy (else cuts would miss). */
  async checkProxied(via: number): Promise<void> {
    const status = await this.status(via);
    check(status !== null, `node ${via} answers /status`);
    for (const m of status.members) check(m.raft_addr === this.proxyAddr(m.id), `member ${m.id} advertises its proxy ${this.proxyAddr(m.id)}, not ${m.raft_addr}`);
  }
}

/** TermLog: per term, which leader each node named; two different leaders named for one term break Election Safety. */
export class TermLog {
  /** leaders: term → leader id → who said so first ("n3 is_leader", "n2 leader_id"). */
  readonly leaders = new Map<number, Map<number, string>>();

  record(term: number, leader: number, who: string): void {
    let byLeader = this.leaders.get(term);
    if (byLeader === undefined) this.leaders.set(term, (byLeader = new Map()));
    if (!byLeader.has(leader)) byLeader.set(leader, who);
  }

  /** violations: one sentence per term in which two leaders were named. */
  violations(): string[] {
    const out: string[] = [];
    for (const [term, byLeader] of this.leaders) {
      if (byLeader.size > 1) out.push(`term ${term} had leaders ${[...byLeader].map(([id, who]) => `${id} (${who})`).join(" and ")}`);
    }
    return out;
  }

  /** describe: "t2:1 t3:4", the leader(s) of every term seen. */
  describe(): string {
    return [...this.leaders].sort((a, b) => a[0] - b[0]).map(([term, byLeader]) => `t${term}:${[...byLeader.keys()].join("/")}`).join(" ");
  }
}

/**
 * TermWatcher polls /status of every running node into a TermLog: a node saying is_leader names itself for its
 * term, a follower names its leader_id for its term.
 */
export class TermWatcher extends TermLog {
  polls = 0;
  private stopping = false;
  private readonly loop: Promise<void>;

  constructor(cluster: Cluster, intervalMs = 100) {
    super();
    const until = performance.now() + loadMaxMs;
    this.loop = (async () => {
      while (!this.stopping && !cluster.isDestroyed && performance.now() < until) {
        const statuses = await cluster.statuses(cluster.running().filter((id) => !cluster.node(id).paused));
        for (const s of statuses.values()) {
          if (s.is_leader) this.record(s.term, s.id, `n${s.id} is_leader`);
          else if (s.leader_id !== 0) this.record(s.term, s.leader_id, `n${s.id} leader_id`);
        }
        this.polls++;
        await Bun.sleep(intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }
}

/** Load: the three things a partition test runs through its fault, started together and stopped together. */
export interface Load {
  watcher: TermWatcher;
  writers: Writers;
  history: History;
  stop(): Promise<void>;
}

/** startLoad starts the term watcher, unique-key writers (lost-write check) and a read/write history (stale-read check). */
export function startLoad(cluster: Cluster, prefix: string): Load {
  const watcher = new TermWatcher(cluster);
  const writers = startWriters(cluster, { writers: 2, prefix, requestTimeoutMs: 2500 });
  const history = recordHistory(cluster, { keys: 3, keyPrefix: `${prefix}reg`, writers: 2, readers: 3, requestTimeoutMs: 1500 });
  return {
    watcher,
    writers,
    history,
    async stop() {
      await Promise.all([writers.stop(), history.stop(), watcher.stop()]);
    },
  };
}

/** waitAcked waits until the writers have `more` acknowledged writes beyond now, within `deadlineMs`. */
export async function waitAcked(load: Load, more: number, what: string, deadlineMs = 10_000): Promise<void> {
  const target = load.writers.log.acked.size + more;
  await waitFor(() => load.writers.log.acked.size >= target, { deadlineMs, what: `${more} more acknowledged writes ${what} (answers: ${describeAnswers(load.writers.log)})` });
}

/**
 * probeCutOff: node `id`, cut off from the majority, must neither acknowledge a write nor serve a linearizable
 * read of `key` older than `fresh`, which the majority acknowledged after the cut (a redirect or an error is fine).
 */
export async function probeCutOff(cluster: Cluster, id: number, key: string, fresh: string): Promise<void> {
  const write = await request(cluster.node(id).httpAddr, "/kv", { json: { op: "put", key: `cut-off-${id}-${Date.now()}`, value: "x" }, timeoutMs: 3000 });
  check(!(write.status === 200 && write.json?.ok === true), `node ${id}, cut off from the majority, acknowledged a write: ${write.text}`);
  const read = await cluster.get(id, key, { timeoutMs: 3000 });
  if (read.status === 200 || read.status === 404) {
    const value = read.status === 200 ? String(read.json?.value) : "(no value)";
    check(value === fresh, `node ${id}, cut off from the majority, served a stale linearizable read of ${key}: ${value} (the majority acknowledged ${fresh})`);
  }
}

/**
 * writeOk puts key=value through whichever node of `among` leads, retrying until acknowledged within
 * `deadlineMs`. With `history`, the write is recorded there (invoked at the first attempt, completed at the
 * acknowledgement: one logical write of one unique value) so the stale-read checker knows it.
 */
export async function writeOk(cluster: Cluster, key: string, value: string, among: number[], options: { deadlineMs?: number; history?: History } = {}): Promise<void> {
  const deadlineMs = options.deadlineMs ?? 10_000;
  const invokeMs = performance.now();
  const deadline = invokeMs + deadlineMs;
  let last = "";
  while (performance.now() < deadline) {
    const left = Math.max(1, deadline - performance.now());
    const { leaderId } = await cluster.waitForLeader({ among, deadlineMs: left, what: `a leader among ${among.join(", ")} to write ${key} through` });
    const reply = await request(cluster.node(leaderId).httpAddr, "/kv", { json: { op: "put", key, value }, timeoutMs: Math.min(2500, left) });
    if (reply.status === 200 && reply.json?.ok === true) {
      options.history?.ops.push({ kind: "write", client: "fence", key, value, invokeMs, completeMs: performance.now(), node: leaderId });
      return;
    }
    last = `node ${leaderId}: HTTP ${reply.status} ${reply.text.slice(0, 200)}`;
    await Bun.sleep(50);
  }
  throw new CheckError(`no write of ${key} was acknowledged by the leader of ${among.join(", ")} within ${deadlineMs / 1000} s (last: ${last})`);
}

/**
 * startProbe reads `key` linearizably from each of `ids` in a loop (the nodes cut off from the majority) and
 * records every answered read into the history, so a stale one is caught however briefly it is served.
 */
export function startProbe(cluster: Cluster, history: History, ids: number[], key: string): { stop(): Promise<void> } {
  let stopping = false;
  const until = performance.now() + loadMaxMs;
  const loops = ids.map(async (id) => {
    while (!stopping && !cluster.isDestroyed && performance.now() < until) {
      const invokeMs = performance.now();
      const read = await cluster.get(id, key, { timeoutMs: 1500 });
      const completeMs = performance.now();
      if (read.status === 200 || read.status === 404) {
        history.ops.push({ kind: "read", client: `probe${id}`, key, value: read.status === 200 ? String(read.json?.value) : null, invokeMs, completeMs, node: id });
      }
      await Bun.sleep(10);
    }
  });
  return {
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}

/**
 * checkTermsStayBelowLeader: for `periodMs`, the nodes `cutOff` (which hear no leader) never report a term above
 * the term of the leader of `among`: with pre-vote they cannot win pre-votes, so they never raise their term.
 */
export async function checkTermsStayBelowLeader(cluster: Cluster, cutOff: number[], among: number[], periodMs: number): Promise<void> {
  const until = performance.now() + periodMs;
  while (performance.now() < until) {
    const { term } = await cluster.waitForLeader({ among, deadlineMs: 10_000 });
    for (const id of cutOff) {
      const s = await cluster.status(id);
      check(s === null || s.term <= term, `node ${id}, cut off from the leader, moved to term ${s?.term}, above the leader's term ${term}`);
    }
    await Bun.sleep(100);
  }
}

/**
 * finalChecks, after healing and stopping the load: one leader per term, no stale read in the history, and every
 * acknowledged write readable (linearizably) from every node of `members`.
 */
export async function finalChecks(cluster: PartitionCluster, load: Load, members: number[]): Promise<void> {
  const terms = load.watcher.violations();
  check(terms.length === 0, `two leaders in one term: ${terms.join("; ")} (seen: ${load.watcher.describe()})`);
  check(load.watcher.polls >= 10, `the term watcher polled enough to mean something: ${load.watcher.polls}`);
  const stale = checkHistory(load.history.ops);
  check(stale.length === 0, `${stale.length} stale reads in ${load.history.ops.length} operations, e.g.:\n${stale.slice(0, 5).join("\n")}`);
  await cluster.waitConverged(members, 20_000);
  for (const id of members) {
    const result = await findLostWrites(cluster, load.writers.log, id);
    check(
      result.lost.length === 0,
      `node ${id}: ${result.lost.length} of ${result.checked} acknowledged writes lost, e.g. ${JSON.stringify(result.lost.slice(0, 5))} (answers: ${describeAnswers(load.writers.log)})`,
    );
  }
  const reads = load.history.ops.filter((op) => op.kind === "read").length;
  // QKLZL_PARTITION_VERBOSE=1 prints what a passing run did (load, terms seen, bytes per link).
  if (process.env.QKLZL_PARTITION_VERBOSE === "1") {
    console.log(`acked ${load.writers.log.acked.size} (${describeAnswers(load.writers.log)}), history ${load.history.ops.length} ops (${reads} reads), terms ${load.watcher.describe()}\n${cluster.links.describe()}`);
  }
  check(load.writers.log.acked.size >= 50 && reads >= 50, `enough load to mean something: ${load.writers.log.acked.size} acked writes, ${reads} reads`);
}
