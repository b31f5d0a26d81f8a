import { assert } from "../shared/assert.ts";
import { limitSize } from "./entry_size.ts";
import type { Entry, Index, LogReader, SnapshotMeta, Term } from "./types.ts";

/**
 * RaftLog is the stable log (the driver's LogReader) plus the unstable tail not yet persisted
 * (etcd log.go + log_unstable.go). Entries at index >= `offset` live in `unstable` and shadow the
 * stored suffix; a received snapshot lives in `unstableSnapshot` until persisted and shadows all of storage.
 * Invariant: applied <= applying <= committed <= lastIndex().
 */
export class RaftLog {
  unstable: Entry[] = [];
  /** offset is the index of unstable[0] (or where the next unstable entry goes). */
  offset: Index;
  /** inProgress: unstable entries below it (and the snapshot, if snapshotInProgress) were handed to a Ready. */
  inProgress: Index;
  unstableSnapshot: SnapshotMeta | null = null;
  snapshotInProgress = false;
  committed: Index;
  /** applying: highest index handed out in Ready.committed; applied: acknowledged by advance(). */
  applying: Index;
  applied: Index;

  constructor(readonly storage: LogReader, committed: Index, applied: Index) {
    this.offset = storage.lastIndex() + 1;
    this.inProgress = this.offset;
    const first = storage.firstIndex();
    assert(committed <= storage.lastIndex(), `log: commit ${committed} beyond lastIndex ${storage.lastIndex()}`);
    // A snapshot loaded from disk is applied (its image is the state machine), whatever hardState says.
    this.committed = Math.max(committed, first - 1);
    this.applied = Math.max(applied, first - 1);
    assert(this.applied <= this.committed, `log: applied ${applied} > committed ${committed}`);
    this.applying = this.applied;
  }

  snapshotMeta(): SnapshotMeta {
    return this.unstableSnapshot ?? this.storage.snapshotMeta();
  }

  firstIndex(): Index {
    return this.unstableSnapshot ? this.unstableSnapshot.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): Index {
    if (this.unstable.length > 0) return this.offset + this.unstable.length - 1;
    if (this.unstableSnapshot) return this.unstableSnapshot.index;
    return this.storage.lastIndex();
  }

  lastTerm(): Term {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, "log: the last entry has a term");
    return term;
  }

  /** term of the entry at index; undefined when compacted or beyond the last entry. */
  term(index: Index): Term | undefined {
    if (index > this.lastIndex()) return undefined;
    if (index >= this.offset) return this.unstable[index - this.offset]?.term;
    const snap = this.unstableSnapshot;
    if (snap) return index === snap.index ? snap.term : undefined;
    return this.storage.term(index);
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term;
  }

  /** isUpToDate: a log ending at (lastIndex, lastTerm) is at least as up to date as ours (§3.6.1). */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** slice returns entries in [lo, hi) within bytesMax (at least one), from storage then unstable. */
  slice(lo: Index, hi: Index, bytesMax: number): Entry[] {
    if (!(lo >= this.firstIndex())) assert(false, `log: slice lo ${lo} < firstIndex ${this.firstIndex()}`);
    if (!(hi <= this.lastIndex() + 1)) assert(false, `log: slice hi ${hi} > lastIndex+1`);
    if (lo >= hi) return [];
    let out: Entry[] = [];
    if (lo < this.offset) {
      out = this.storage.entries(lo, Math.min(hi, this.offset), bytesMax);
      if (out.length < Math.min(hi, this.offset) - lo) return out;
    }
    if (hi > this.offset) {
      const from = Math.max(lo, this.offset);
      out = out.concat(this.unstable.slice(from - this.offset, hi - this.offset));
    }
    return limitSize(out, bytesMax);
  }

  /** append adds entries, replacing any conflicting suffix from entries[0].index (never committed). */
  append(entries: Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (!(first.index > this.committed)) assert(false, `log: append at ${first.index} overwrites committed ${this.committed}`);
    if (!(first.index <= this.lastIndex() + 1)) assert(false, `log: append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    if (first.index >= this.offset) {
      this.unstable.length = first.index - this.offset;
    } else {
      // The new entries replace part of the stable log: the unstable tail restarts there.
      this.unstable = [];
      this.offset = first.index;
    }
    this.inProgress = Math.min(this.inProgress, first.index);
    for (const entry of entries) {
      assert(entry.index === this.offset + this.unstable.length, "log: appended entries must be contiguous");
      this.unstable.push(entry);
    }
  }

  /**
   * findConflict returns the index of the first entry that is new or disagrees with our log, or 0 when
   * every entry is already present with the same term.
   */
  findConflict(entries: Entry[]): Index {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * findConflictByTerm returns the largest index ≤ index whose term is ≤ term, with that term
   * (etcd's fast backtracking hint). Term 0 when the index was compacted.
   */
  findConflictByTerm(index: Index, term: Term): { index: Index; term: Term } {
    for (let i = Math.min(index, this.lastIndex()); i >= 0; i--) {
      const ourTerm = this.term(i);
      if (ourTerm === undefined) return { index: i, term: 0 };
      if (ourTerm <= term) return { index: i, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  commitTo(index: Index): boolean {
    if (index <= this.committed) return false;
    if (!(index <= this.lastIndex())) assert(false, `log: commit ${index} beyond lastIndex ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** restore replaces the whole log with a received snapshot. */
  restore(meta: SnapshotMeta): void {
    assert(meta.index > this.committed, "log: restore below commit");
    this.unstableSnapshot = meta;
    this.snapshotInProgress = false;
    this.unstable = [];
    this.offset = meta.index + 1;
    this.inProgress = this.offset;
    this.committed = meta.index;
    // The snapshot image replaces the state machine: nothing before it is to be applied.
    this.applying = meta.index;
  }

  /** takeUnstable returns the unstable entries not yet handed to a Ready and marks them in progress. */
  takeUnstable(): Entry[] {
    const entries = this.unstable.slice(this.inProgress - this.offset);
    this.inProgress = this.offset + this.unstable.length;
    return entries;
  }

  hasUnstable(): boolean {
    return this.inProgress < this.offset + this.unstable.length;
  }

  takeSnapshot(): SnapshotMeta | null {
    if (!this.unstableSnapshot || this.snapshotInProgress) return null;
    this.snapshotInProgress = true;
    return this.unstableSnapshot;
  }

  hasSnapshot(): boolean {
    return this.unstableSnapshot !== null && !this.snapshotInProgress;
  }

  /** stableTo: entries up to (index, term) are durable, unless the tail was replaced meanwhile. */
  stableTo(index: Index, term: Term): void {
    if (index < this.offset || this.term(index) !== term) return;
    this.unstable = this.unstable.slice(index + 1 - this.offset);
    this.offset = index + 1;
    this.inProgress = Math.max(this.inProgress, this.offset);
  }

  stableSnapTo(meta: SnapshotMeta): void {
    if (this.unstableSnapshot === meta) {
      this.unstableSnapshot = null;
      this.snapshotInProgress = false;
    }
  }

  /** committedToApply: entries in (applying, committed] available to hand out, capped. */
  committedToApply(maxEntries: number, bytesMax: number): Entry[] {
    const hi = Math.min(this.committed, this.applying + maxEntries) + 1;
    if (this.applying + 1 >= hi) return [];
    return this.slice(this.applying + 1, hi, bytesMax);
  }

  hasCommittedToApply(): boolean {
    return this.committed > this.applying;
  }

  /** lastStableIndex: the last index that is durable (not in the unstable tail). */
  lastStableIndex(): Index {
    if (this.unstableSnapshot) return this.unstable.length > 0 ? this.offset - 1 : this.unstableSnapshot.index;
    return Math.min(this.offset - 1, this.storage.lastIndex());
  }
}
