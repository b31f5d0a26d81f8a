import { assert } from "../shared/assert.ts";
import { limitSize } from "./entry_size.ts";
import type { Entry, HardState, Index, LogReader, SnapshotMeta, Term } from "./types.ts";

/**
 * MemoryStorage is an in-memory durable log for tests and the simulator. It implements the
 * LogReader the core reads plus the writes a driver performs for a Ready.
 */
export class MemoryStorage implements LogReader {
  private snap: SnapshotMeta = { index: 0, term: 0, conf: { members: [] } };
  /** entries[0].index === snap.index + 1 when non-empty. */
  private log: Entry[] = [];
  hardState: HardState = { term: 0, vote: 0, commit: 0 };

  firstIndex(): Index {
    return this.snap.index + 1;
  }

  lastIndex(): Index {
    return this.snap.index + this.log.length;
  }

  term(index: Index): Term | undefined {
    if (index === this.snap.index) return this.snap.term;
    if (index < this.snap.index || index > this.lastIndex()) return undefined;
    return this.log[index - this.snap.index - 1]?.term;
  }

  entries(lo: Index, hi: Index, bytesMax: number): Entry[] {
    assert(lo >= this.firstIndex(), `storage: entries lo ${lo} < firstIndex ${this.firstIndex()}`);
    assert(hi <= this.lastIndex() + 1, `storage: entries hi ${hi} > lastIndex+1 ${this.lastIndex() + 1}`);
    if (lo >= hi) return [];
    const base = this.snap.index + 1;
    return limitSize(this.log.slice(lo - base, hi - base), bytesMax);
  }

  snapshotMeta(): SnapshotMeta {
    return this.snap;
  }

  /** append stores entries, replacing the stored suffix from entries[0].index. */
  append(entries: Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assert(first.index > this.snap.index, `storage: append at ${first.index} below snapshot ${this.snap.index}`);
    assert(first.index <= this.lastIndex() + 1, `storage: append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    this.log.length = first.index - this.snap.index - 1;
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, "storage: appended entries must be contiguous");
      this.log.push(entry);
    }
  }

  /** applySnapshot installs a received snapshot: the whole log is replaced by it (empty after meta.index). */
  applySnapshot(meta: SnapshotMeta): void {
    this.snap = meta;
    this.log = [];
  }

  /**
   * compact drops entries up to `index` (≤ lastIndex) after the state machine took a snapshot there;
   * conf is the configuration as of `index`.
   */
  compact(index: Index, conf: SnapshotMeta["conf"]): void {
    if (index <= this.snap.index) return;
    const term = this.term(index);
    assert(term !== undefined, `storage: compact to ${index} beyond lastIndex ${this.lastIndex()}`);
    this.log = this.log.slice(index - this.snap.index);
    this.snap = { index, term, conf };
  }

  setHardState(hardState: HardState): void {
    this.hardState = { ...hardState };
  }
}
