import type { ConfState, Entry, HardState, Index, Member, NodeId, Term } from "../../src/raft/types.ts";

/** SimViolation is a broken Raft invariant (or a broken driver contract) found by the checker. */
export class SimViolation extends Error {
  override name = "SimViolation";
}

const decoder = new TextDecoder();
const payloadCache = new WeakMap<Uint8Array, string>();

/** payloadOf decodes a client payload (the simulator only proposes short UTF-8 strings). */
export function payloadOf(data: Uint8Array): string {
  let text = payloadCache.get(data);
  if (text === undefined) {
    text = decoder.decode(data);
    payloadCache.set(data, text);
  }
  return text;
}

/** entryIdentity names an entry so that two entries are the same entry iff their identities are equal. */
export function entryIdentity(entry: Entry): string {
  switch (entry.kind) {
    case "normal":
      return `${entry.term}:w:${payloadOf(entry.data)}`;
    case "noop":
      return `${entry.term}:noop`;
    case "conf":
      return `${entry.term}:conf:${entry.change.type}:${entry.change.id}`;
  }
}

/** confKey is a canonical text of a configuration (members by id, with role and addresses). */
export function confKey(members: readonly Member[]): string {
  return JSON.stringify([...members].sort((a, b) => a.id - b.id).map((m) => [m.id, m.role, m.raftAddr, m.httpAddr]));
}

/**
 * Checker holds the global truth of a run and checks every observation against it (Raft paper Figure 3):
 * election safety, log matching, state-machine safety (one global applied sequence), vote durability
 * across crashes, monotonic commit, and linearizable ReadIndex reads. It throws SimViolation at once.
 */
export class Checker {
  now = 0;
  /** leaders: term → the node seen leading it. */
  private readonly leaders = new Map<Term, NodeId>();
  /** votes: "node:term" → the candidate that node voted for in that term (durable or sent). */
  private readonly votes = new Map<string, NodeId>();
  /** logEntries: "index:term" → identity and the term of the entry before it (log matching). */
  private readonly logEntries = new Map<string, { identity: string; prevTerm: Term | undefined }>();
  /** committed[i] is the identity of the entry applied at index i by anyone: the one global sequence. */
  readonly committed: string[] = [""];
  /** maxAckedIndex: the highest index of a client write acknowledged so far. */
  maxAckedIndex = 0;
  acked = 0;
  leaderTerms = 0;

  fail(what: string): never {
    throw new SimViolation(`tick ${this.now}: ${what}`);
  }

  /** onStatus: at most one leader per term (election safety, §3.6). */
  onLeader(id: NodeId, term: Term): void {
    const seen = this.leaders.get(term);
    if (seen === undefined) {
      this.leaders.set(term, id);
      this.leaderTerms++;
    } else if (seen !== id) {
      this.fail(`two leaders in term ${term}: node ${seen} and node ${id}`);
    }
  }

  /**
   * onLeaderLog: leader completeness (§3.6.3). A new leader's log holds every entry applied anywhere so
   * far (down to its snapshot); `termAt` reads its log, unstable tail included.
   */
  onLeaderLog(id: NodeId, term: Term, firstIndex: Index, termAt: (index: Index) => Term | undefined): void {
    for (let index = Math.max(1, firstIndex); index < this.committed.length; index++) {
      const identity = this.committed[index] as string;
      const committedTerm = Number(identity.slice(0, identity.indexOf(":")));
      const ours = termAt(index);
      if (ours !== committedTerm) {
        this.fail(`leader completeness: node ${id} leads term ${term} with term ${ours} at index ${index}, where ${identity} was applied`);
      }
    }
  }

  /** confs: the configuration after each conf entry applied anywhere (index order), and the initial one. */
  private readonly confs: Array<{ index: Index; key: string }> = [{ index: 0, key: "[]" }];

  /** onConfApplied: every node that applies the conf entry at `index` ends with the same configuration. */
  onConfApplied(node: NodeId, index: Index, conf: ConfState): void {
    const key = confKey(conf.members);
    const seen = this.confs.find((c) => c.index === index);
    if (seen === undefined) this.confs.push({ index, key });
    else if (seen.key !== key) this.fail(`node ${node}: configuration after index ${index} is ${key}, elsewhere ${seen.key}`);
  }

  /** confAt is the configuration in effect at `index` (undefined when no node applied that far yet). */
  confAt(index: Index): string | undefined {
    if (index >= this.committed.length) return undefined;
    let key: string | undefined;
    for (const c of this.confs) if (c.index <= index) key = c.key;
    return key;
  }

  /** onConfAt: a configuration some node holds as of `index` (a snapshot's, or its core's) is the true one. */
  onConfAt(node: NodeId, index: Index, members: readonly Member[], what: string): void {
    const expected = this.confAt(index);
    if (expected === undefined) return;
    const key = confKey(members);
    if (key !== expected) this.fail(`node ${node}: ${what} at index ${index} has configuration ${key}, expected ${expected}`);
  }

  /** revisions[i]: the store revision after index i, as the first node to reach it reported (sparse). */
  private readonly revisions: number[] = [];
  /** lastRevision: per node, its latest (index, revision) in this incarnation (a restart goes back to its snapshot). */
  private readonly lastRevision = new Map<NodeId, { index: Index; revision: number }>();

  /**
   * onRevision: the store revision of `node` at applied `index` (issue 12). Every replica has the same revision
   * at the same index; across indexes it never goes backwards (checked against the nearest known index on
   * each side); and on one node, from one applied entry to the next, it never drops.
   */
  onRevision(node: NodeId, index: Index, revision: number, what: string): void {
    const seen = this.revisions[index];
    if (seen !== undefined && seen !== revision) this.fail(`node ${node}: store revision ${revision} at index ${index} (${what}), elsewhere ${seen}`);
    if (seen === undefined) {
      let below = index - 1;
      while (below > 0 && this.revisions[below] === undefined) below--;
      if (below > 0 && this.revisions[below]! > revision) this.fail(`node ${node}: store revision ${revision} at index ${index} (${what}) is below ${this.revisions[below]} at index ${below}`);
      let above = index + 1;
      while (above < this.revisions.length && this.revisions[above] === undefined) above++;
      if (above < this.revisions.length && this.revisions[above]! < revision) this.fail(`node ${node}: store revision ${revision} at index ${index} (${what}) is above ${this.revisions[above]} at index ${above}`);
      this.revisions[index] = revision;
    }
    const last = this.lastRevision.get(node);
    if (last !== undefined && index > last.index && revision < last.revision) this.fail(`node ${node}: store revision went back from ${last.revision} to ${revision} (index ${last.index} → ${index}, ${what})`);
    this.lastRevision.set(node, { index, revision });
  }

  /** expectSameConf: two views of one node's configuration must agree. */
  expectSameConf(node: NodeId, actual: readonly Member[], expected: readonly Member[], what: string): void {
    const got = confKey(actual);
    const want = confKey(expected);
    if (got !== want) this.fail(`node ${node}: ${what}: has ${got}, expected ${want}`);
  }

  leaderOf(term: Term): NodeId | undefined {
    return this.leaders.get(term);
  }

  /** onVote records that `node` voted for `candidate` in `term`; a second, different vote is a violation. */
  onVote(node: NodeId, term: Term, candidate: NodeId, how: string): void {
    if (candidate === 0) return;
    const key = `${node}:${term}`;
    const seen = this.votes.get(key);
    if (seen === undefined) this.votes.set(key, candidate);
    else if (seen !== candidate) this.fail(`node ${node} voted twice in term ${term}: for ${seen}, then for ${candidate} (${how})`);
  }

  /** onDurableHardState: a durable hard state never goes back (term, vote within a term, commit). */
  onDurableHardState(node: NodeId, before: HardState, after: HardState): void {
    if (after.term < before.term) this.fail(`node ${node}: durable term went back ${before.term} → ${after.term}`);
    if (after.term === before.term && before.vote !== 0 && after.vote !== before.vote) {
      this.fail(`node ${node}: durable vote changed within term ${after.term}: ${before.vote} → ${after.vote}`);
    }
    if (after.commit < before.commit) this.fail(`node ${node}: durable commit went back ${before.commit} → ${after.commit}`);
    this.onVote(node, after.term, after.vote, "durable hard state");
  }

  /** onLogEntry: an (index, term) pair names one entry forever, with one predecessor term (log matching). */
  onLogEntry(node: NodeId, entry: Entry, prevTerm: Term | undefined): void {
    const key = `${entry.index}:${entry.term}`;
    const identity = entryIdentity(entry);
    const seen = this.logEntries.get(key);
    if (seen === undefined) {
      this.logEntries.set(key, { identity, prevTerm });
      return;
    }
    if (seen.identity !== identity) this.fail(`log matching: node ${node} stores ${identity} at ${key}, another log has ${seen.identity}`);
    if (prevTerm !== undefined && seen.prevTerm !== undefined && prevTerm !== seen.prevTerm) {
      this.fail(`log matching: node ${node} has term ${prevTerm} before ${key}, another log has ${seen.prevTerm}`);
    }
    if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
  }

  /** onApply: the entry a node applies at `index` is the one every other node applied there. */
  onApply(node: NodeId, index: Index, identity: string): void {
    const seen = this.committed[index];
    if (seen === undefined) {
      if (index !== this.committed.length) this.fail(`node ${node} applied index ${index} before anyone applied ${this.committed.length}`);
      this.committed.push(identity);
    } else if (seen !== identity) {
      this.fail(`state machine safety: node ${node} applied ${identity} at index ${index}, another node applied ${seen}`);
    }
  }

  /** onAck: a client write at `index` was acknowledged (applied on the node that accepted it). */
  onAck(index: Index): void {
    this.acked++;
    if (index > this.maxAckedIndex) this.maxAckedIndex = index;
  }

  /** onReadState: a read issued when writes up to minIndex were acknowledged must read at least there. */
  onReadState(node: NodeId, ctx: string, index: Index, minIndex: Index): void {
    if (index < minIndex) {
      this.fail(`stale read: node ${node} answered read ${ctx} at index ${index}, but a write at ${minIndex} was acknowledged before it was issued`);
    }
  }
}
