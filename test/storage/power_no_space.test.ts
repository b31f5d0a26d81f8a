// Power loss on the WAL's disk-full path (src/storage/no_space.ts, src/node/disk_full.ts): a write ENOSPC refuses
// leaves a partial tail, the WAL cuts it off with ftruncate (no fsync of its own: the next save's fdatasync covers
// it) and answers no_space; DiskFullGuard makes the same save again a second later. The storage runs on PowerFs
// with a full disk switched on and off, and the power is cut before every mutation and sync of that path: after
// the partial write, after the ftruncate, before and after the retry's write and its fdatasync, and inside a
// segment roll the full disk refuses (its tmp file). Every image must reopen with every acknowledged entry and
// hard state, and show each save whole or not at all: a refused record's partial bytes never come back.
import { describe, expect, test } from "bun:test";
import { createConsola } from "consola";
import * as fs from "node:fs";
import type { Entry, HardState } from "../../src/raft/types.ts";
import { DiskFullGuard } from "../../src/node/disk_full.ts";
import { isQklzlError } from "../../src/shared/errors.ts";
import { openStorage, type FileStorage } from "../../src/storage/index.ts";
import { PowerFs, type PowerImage } from "./power_fs.ts";
import { prng } from "./model_workload.ts";
import { entryOk, normal, quietWarnings, recordsEnd, tempDirsPerTest } from "./helpers.ts";

quietWarnings();
const fresh = tempDirsPerTest("qklzl-power-nospace-");

const segment_bytes = 1200;
const entry_bytes = 40;

/** Expected: the log a save leaves (terms[i - 1] is entry i's term) and its hard state. */
interface Expected {
  terms: number[];
  hs: HardState;
}

interface Cut {
  number: number;
  what: string;
  images: PowerImage[];
  acked: Expected;
  /** issued: the saves made since the last acknowledged one (refused ones too: their ftruncate is not synced yet). */
  issued: Expected[];
}

/** Script: a WAL on a PowerFs whose disk can be made full, saves tracked as acknowledged or in flight. */
class Script {
  readonly files: PowerFs;
  /** refusals: how many of the next writes the full disk refuses; partial: how many bytes each leaves behind. */
  refusals = 0;
  partial = 0;
  acked: Expected = { terms: [], hs: { term: 0, vote: 0, commit: 0 } };
  issued: Expected[] = [];
  readonly cuts: Cut[] = [];
  s!: FileStorage;

  constructor(readonly dir: string) {
    this.files = new PowerFs(dir, {
      noSpace: (bytes) => {
        if (this.refusals === 0) return null;
        this.refusals--;
        return Math.min(this.partial, bytes - 1);
      },
      onMutation: (what) => {
        const number = this.files.mutations;
        // The strict image (only what was synced) and three with a random prefix of the pending writes, torn.
        const images = [this.files.cut({ rand: prng(number), strict: true })];
        for (let k = 1; k <= 3; k++) images.push(this.files.cut({ rand: prng(number * 31 + k) }));
        this.cuts.push({ number, what, images, acked: this.acked, issued: this.issued });
      },
    });
  }

  /** save: one save of `entries` (appended) and `hs`, through `via` (the log or the guarded log). */
  async save(via: { save(entries: Entry[], hs: HardState | null): Promise<void> }, entries: Entry[], hs: HardState): Promise<string> {
    const next: Expected = { terms: [...this.acked.terms, ...entries.map((e) => e.term)], hs };
    this.issued = [...this.issued, next];
    try {
      await via.save(entries, hs);
      this.acked = next;
      this.issued = [];
      return "ok";
    } catch (error) {
      return isQklzlError(error) ? error.code : String(error);
    }
  }

  batch(count: number, term: number): Entry[] {
    const first = this.acked.terms.length + 1;
    return Array.from({ length: count }, (_, i) => normal(first + i, term, entry_bytes));
  }
}

/** check reopens one image and returns what is wrong with it (empty: nothing). */
async function check(dir: string, image: PowerImage, cut: Cut): Promise<string[]> {
  const files = PowerFs.fromImage(dir, image);
  let s: FileStorage;
  try {
    s = await openStorage({ dir, nodeId: 1, segmentBytes: segment_bytes, files });
  } catch (error) {
    return [`recovery refused: ${error instanceof Error ? error.message : String(error)}`];
  }
  const found: string[] = [];
  try {
    const last = s.log.lastIndex();
    const hs = s.log.hardState();
    // Every acknowledged entry and hard state, plus a prefix of the records of one save issued since (a refused
    // save's partial tail may reach the disk before its ftruncate does, as a torn write would): its entries, in
    // order, then its hard state, which is written after them. Never a record the save did not write.
    const ackedLast = cut.acked.terms.length;
    const explains = (c: Expected | null): boolean => {
      const terms = c?.terms ?? cut.acked.terms;
      if (last < ackedLast || last > terms.length) return false;
      const entries = s.log.entries(s.log.firstIndex(), last + 1, Infinity);
      if (entries.some((e) => !entryOk(e) || e.term !== terms[e.index - 1])) return false;
      if (sameHs(hs, cut.acked.hs)) return true;
      return c !== null && last === terms.length && sameHs(hs, c.hs);
    };
    if (!explains(null) && !cut.issued.some((c) => explains(c))) {
      found.push(
        `log ends at ${last} with hard state ${JSON.stringify(hs)} (terms ${JSON.stringify(s.log.entries(s.log.firstIndex(), last + 1, Infinity).map((e) => e.term))}); ` +
          `acknowledged: ${ackedLast} with ${JSON.stringify(cut.acked.hs)}; issued since: ${cut.issued.map((c) => `${c.terms.length} with ${JSON.stringify(c.hs)}`).join(", ") || "none"}`,
      );
    }
    if (found.length > 0) return found;
    // The cut tail (if any) was cut on a record boundary: a new save survives a clean reopen.
    const next = last + 1;
    await s.log.save([normal(next, Math.max(1, hs.term), entry_bytes)], null);
    await s.close();
    s = await openStorage({ dir, nodeId: 1, segmentBytes: segment_bytes, files });
    if (s.log.lastIndex() !== next || (s.log.tornBytesAtOpen ?? 0) !== 0) {
      found.push(`a save after recovery did not survive a clean reopen (last ${s.log.lastIndex()}, want ${next}; torn ${s.log.tornBytesAtOpen ?? 0} B)`);
    }
    return found;
  } finally {
    await s.close();
  }
}

function sameHs(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

async function checkAll(script: Script): Promise<{ images: number; failures: string[] }> {
  const reopen = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/qklzl-power-nospace-r-") : fresh();
  const failures: string[] = [];
  let images = 0;
  try {
    for (const cut of script.cuts) {
      for (const [k, image] of cut.images.entries()) {
        images++;
        const found = await check(reopen, image, cut);
        if (found.length > 0) failures.push(`cut ${cut.number} (before "${cut.what}", ${k === 0 ? "strict" : `torn ${k}`}): ${found.join("; ")}`);
      }
      if (failures.length >= 5) break;
    }
  } finally {
    fs.rmSync(reopen, { recursive: true, force: true });
  }
  return { images, failures };
}

/** runNoSpaceScript: the disk-full path, scripted; the script collects its cuts. */
async function runNoSpaceScript(script: Script): Promise<void> {
  const dir = script.dir;
  const s = await openStorage({ dir, nodeId: 1, segmentBytes: segment_bytes, files: script.files });
  script.s = s;
  const guard = new DiskFullGuard({ logger: createConsola({ level: -999 }), onFull: () => {}, onSpace: () => {}, onFatal: () => {} });
  const guarded = guard.wrap(s).log;
  try {
    expect(await script.save(s.log, script.batch(3, 1), { term: 1, vote: 1, commit: 3 })).toBe("ok");
    // A refused batch, its partial tail inside the record header; then refused again with all but its last byte.
    const b = script.batch(3, 2);
    for (const partial of [5, 1 << 20]) {
      script.refusals = 1;
      script.partial = partial;
      expect(await script.save(s.log, b, { term: 2, vote: 1, commit: 4 })).toBe("no_space");
    }
    expect(await script.save(s.log, b, { term: 2, vote: 1, commit: 4 })).toBe("ok");
    // A hard-state-only save (a vote) refused halfway, then made.
    script.refusals = 1;
    script.partial = 12;
    expect(await script.save(s.log, [], { term: 3, vote: 2, commit: 4 })).toBe("no_space");
    expect(await script.save(s.log, [], { term: 3, vote: 2, commit: 4 })).toBe("ok");
    // Through DiskFullGuard: refused twice (partial tails), retried every second until it is written.
    script.refusals = 2;
    script.partial = 20;
    expect(await script.save(guarded, script.batch(2, 3), { term: 3, vote: 2, commit: 8 })).toBe("ok");
    // Fill the segment; the save that rolls finds the disk full inside the new segment's tmp file, then rolls.
    while (!segmentFull(script)) {
      const commit = script.acked.terms.length;
      expect(await script.save(s.log, script.batch(1, 3), { term: 3, vote: 2, commit })).toBe("ok");
    }
    script.refusals = 1;
    script.partial = 9;
    const rolling = script.batch(2, 3);
    const commit = script.acked.terms.length;
    const segments = s.log.segmentCount();
    expect(await script.save(s.log, rolling, { term: 3, vote: 2, commit })).toBe("no_space");
    expect(s.log.segmentCount()).toBe(segments);
    expect(await script.save(guarded, rolling, { term: 3, vote: 2, commit: commit + 2 })).toBe("ok");
    expect(s.log.segmentCount()).toBe(segments + 1);
    // And once more in the new segment, refused then retried by the guard.
    script.refusals = 1;
    script.partial = 30;
    expect(await script.save(guarded, script.batch(2, 4), { term: 4, vote: 2, commit: commit + 4 })).toBe("ok");
  } finally {
    guard.stop();
    await s.close();
  }
}

/** segmentFull: the active segment reached segment_bytes, so the next save rolls. */
function segmentFull(script: Script): boolean {
  const names = script.files.readdir(`${script.dir}/wal`).filter((n) => n.endsWith(".seg"));
  return recordsEnd(script.files.readFile(`${script.dir}/wal/${names.sort()[names.length - 1]!}`)) >= segment_bytes;
}

describe("power loss on the WAL's disk-full path", () => {
  test("a cut anywhere on the ENOSPC path keeps every acknowledged save and hard state and never brings back a refused record's tail", async () => {
    const script = new Script(fresh());
    // The cuts taken are checked even when the script stops early (a planted bug can trip its own expectations).
    const stopped = await runNoSpaceScript(script).then(() => null, (error: unknown) => error);
    const { images, failures } = await checkAll(script);
    if (failures.length > 0) console.error(`power loss on the disk-full path:\n${failures.join("\n")}`);
    expect(failures).toEqual([]);
    expect(stopped).toBeNull();
    const whats = script.cuts.map((c) => c.what);
    if (process.env.DEBUG_CUTS) console.log(whats.join("\n"));
    // The sweep saw the whole path: partial writes, the ftruncates that cut them, the retries' syncs, the roll's tmp.
    expect(whats.filter((w) => w.includes("(then ENOSPC)")).length).toBe(7);
    // (the others preallocate a segment, or cut a sealed one to its records)
    expect(whats.filter((w, i) => w.startsWith("ftruncate") && whats[i - 1]?.includes("(then ENOSPC)")).length).toBe(6);
    expect(whats.some((w) => w.startsWith("unlink") && w.endsWith(".tmp"))).toBe(true);
    expect(whats.filter((w) => w === "fdatasync done").length).toBeGreaterThan(8);
    expect(images).toBeGreaterThan(200);
  }, 60_000);
});
