// MemLog is the in-memory image of the WAL: retained entries, hard state and snapshot meta. The same
// operations run live (save, snapshot events) and at recovery (replaying records), so replay gives exactly
// the state that was served before the crash. The entries are kept as columns (entry_columns.ts), not as
// objects the garbage collector traces. Pure: no I/O.
import { assert } from "../shared/assert.ts";
import type { Entry, HardState, Index, SnapshotMeta, Term } from "../raft/types.ts";
import { EntryColumns } from "./entry_columns.ts";
import type { SnapshotRecord } from "./record.ts";

export const emptySnapshotMeta: SnapshotMeta = { index: 0, term: 0, conf: { members: [] } };

export class MemLog {
  /** first: index of ents[0]. Invariant: ents empty → first == snap.index + 1 or first was set by compaction. */
  first: Index = 1;
  private readonly ents = new EntryColumns();
  snap: SnapshotMeta = emptySnapshotMeta;
  hs: HardState = { term: 0, vote: 0, commit: 0 };

  lastIndex(): Index {
    return this.first + this.ents.length - 1;
  }

  term(index: Index): Term | undefined {
    if (index === this.snap.index) return this.snap.term;
    if (index < this.first || index > this.lastIndex()) return undefined;
    return this.ents.term(index - this.first);
  }

  holds(index: Index, term: Term): boolean {
    if (index < this.first || index > this.lastIndex()) return false;
    return this.ents.term(index - this.first) === term;
  }

  /**
   * append adds entries, replacing the stored suffix from entries[0].index on. Returns an error text for a gap
   * or an overwrite below the first retained entry (the caller turns it into an assertion or corruption).
   */
  append(entries: Entry[], strict = false): string | null {
    if (entries.length === 0) return null;
    const lo = entries[0]!.index;
    if (this.ents.length === 0) {
      // Recovery may start mid-log (after compaction); a live append must continue right after lastIndex.
      if (strict && lo !== this.first) return `entry ${lo} does not follow last index ${this.lastIndex()}`;
      this.first = lo;
    } else {
      if (lo > this.lastIndex() + 1) return `gap: entry ${lo} after last index ${this.lastIndex()}`;
      if (lo < this.first) {
        // Recovery that starts after compacted segments may meet a truncation reaching below the first entry
        // it replayed: the whole retained suffix is replaced. Live, that would overwrite compacted entries.
        if (strict) return `overwrite of entry ${lo} below first retained index ${this.first}`;
        this.ents.clear();
        this.first = lo;
      } else {
        this.ents.truncate(lo - this.first, this.first);
      }
    }
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.index !== lo + i) return `entries not contiguous at ${entry.index}`;
      // A live append (strict: the WAL's save) keeps large entries' own buffers; recovery copies (push).
      this.ents.push(entry, strict);
    }
    return null;
  }

  /**
   * appendProblem: what append(entries, true) would refuse, checked without changing anything (the WAL asks
   * before it writes the record, and asserts append's answer after).
   */
  appendProblem(entries: Entry[]): string | null {
    if (entries.length === 0) return null;
    const lo = entries[0]!.index;
    if (this.ents.length === 0 && lo !== this.first) return `entry ${lo} does not follow last index ${this.lastIndex()}`;
    if (this.ents.length > 0 && lo > this.lastIndex() + 1) return `gap: entry ${lo} after last index ${this.lastIndex()}`;
    if (this.ents.length > 0 && lo < this.first) return `overwrite of entry ${lo} below first retained index ${this.first}`;
    for (let i = 0; i < entries.length; i++) if (entries[i]!.index !== lo + i) return `entries not contiguous at ${entries[i]!.index}`;
    return null;
  }

  /** appendOne is append([entry]) without the array, for recovery's hot loop. */
  appendOne(entry: Entry): string | null {
    const last = this.lastIndex();
    if (this.ents.length > 0 && entry.index === last + 1) {
      this.ents.push(entry);
      return null;
    }
    return this.append([entry]);
  }

  /** snapshotRecordFor decides `keep` for a snapshot event now, so that replay repeats the same decision. */
  snapshotRecordFor(meta: SnapshotMeta, install: boolean): SnapshotRecord {
    return { meta, install, keep: this.holds(meta.index, meta.term) };
  }

  applySnapshot(record: SnapshotRecord): void {
    const { meta } = record;
    this.snap = meta;
    if (!record.keep) {
      this.ents.clear();
      this.first = meta.index + 1;
    } else if (record.install) {
      // Recovery that starts after compacted segments may hold fewer entries than the live log did: drop what
      // is there up to meta.index, never move `first` below the entries still held.
      this.dropBefore(meta.index + 1);
    } else if (this.ents.length === 0) {
      this.first = meta.index + 1;
    }
    // No invariant check here: recovery passes through odd intermediate states (see invariantProblem).
  }

  /** dropBefore discards retained entries below `first`; an emptied log restarts right after its snapshot. */
  dropBefore(first: Index): void {
    if (first > this.first) {
      const drop = Math.min(this.ents.length, first - this.first);
      this.ents.dropFront(drop, this.first);
      this.first += drop;
    }
    if (this.ents.length === 0) this.first = this.snap.index + 1;
  }

  /**
   * invariantProblem checks what the LogReader promises: the log reaches back to its snapshot (first ≤ snap + 1),
   * and an empty log sits right after it. Live mutations keep it at every step; recovery at its end.
   */
  invariantProblem(): string | null {
    if (this.first > this.snap.index + 1) return `first index ${this.first} leaves a gap after snapshot ${this.snap.index}`;
    if (this.ents.length === 0 && this.first !== this.snap.index + 1) {
      return `empty log starts at ${this.first}, not after snapshot ${this.snap.index}`;
    }
    return null;
  }

  entries(lo: Index, hi: Index, bytesMax: number): Entry[] {
    if (!(lo >= this.first)) assert(false, `entries(${lo}) below first index ${this.first}: compacted`);
    if (!(hi <= this.lastIndex() + 1)) assert(false, `entries(.., ${hi}) beyond last index ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      bytes += this.ents.size(i - this.first);
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(this.ents.entry(i - this.first, i));
    }
    return out;
  }
}
