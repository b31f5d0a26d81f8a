// sweepSeed runs the model workload on a PowerFs, takes the image a power cut would leave before every file
// mutation and sync completion (half of them strict: only fsynced data and entries; half with a random prefix of
// the pending writes, the next one torn), then reopens each image and checks it:
// - recovery opens it (never refuses or asserts on a state a power cut can produce);
// - the hard state never covers entries that are gone, the snapshot never lies beyond the log;
// - the log is the acknowledged state plus a prefix of the operations in flight (every acked save survives);
// - every 4th image also takes a new save and survives a clean reopen (the torn tail was cut on a record boundary).
import * as fs from "node:fs";
import * as path from "node:path";
import { openStorage } from "../../src/storage/index.ts";
import { History, prng, problems, runWorkload, windowOf, type Window } from "./model_workload.ts";
import { PowerFs, type PowerImage } from "./power_fs.ts";
import { normal, tempDir } from "./helpers.ts";

interface Cut {
  number: number;
  what: string;
  strict: boolean;
  image: PowerImage;
  window: Window;
}

export interface SweepOptions {
  seed: number;
  steps: number;
  /** lyingFdatasync: a broken disk whose fdatasync persists nothing (the checker must catch it). */
  lyingFdatasync?: boolean;
  /** only: check just this cut number (replay of one failure, with a listing of the files). */
  only?: number;
  /** failuresMax: stop collecting after this many failures. */
  failuresMax?: number;
}

export interface SweepResult {
  cuts: number;
  failures: string[];
}

export async function sweepSeed(options: SweepOptions): Promise<SweepResult> {
  const { seed } = options;
  const work = tempDir("qklzl-power-");
  // The reopens' meta.json and LOCK live on the real disk (outside the model): a RAM disk keeps thousands cheap.
  const reopen = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/qklzl-power-r-") : tempDir("qklzl-power-r-");
  try {
    const history = new History();
    const cuts: Cut[] = [];
    const listings = new Map<number, string[]>();
    const files: PowerFs = new PowerFs(work, {
      ...(options.lyingFdatasync ? { lyingFdatasync: true } : {}),
      onMutation: (what) => {
        const number = files.mutations;
        if (options.only !== undefined && number !== options.only) return;
        const strict = number % 2 === 0;
        const image = files.cut({ rand: prng(seed * 7919 + number), strict });
        cuts.push({ number, what, strict, image, window: windowOf(history) });
        if (options.only !== undefined) listings.set(number, files.list());
      },
    });
    const crash = () => {
      files.crash();
      // The dead process's LOCK (on the real disk, outside the model) is stale.
      fs.rmSync(path.join(work, "LOCK"), { force: true });
    };
    await runWorkload({ seed, steps: options.steps, dir: work, files, history, crash });
    const failures: string[] = [];
    for (const cut of cuts) {
      const found = await checkCut(reopen, cut);
      if (found.length === 0) continue;
      const listing = listings.get(cut.number);
      failures.push(
        `seed ${seed} cut ${cut.number} (before "${cut.what}", ${cut.strict ? "strict" : "torn"}; replay: POWER_SEED=${seed} POWER_CUT=${cut.number}): ` +
          found.join("; ") +
          (listing === undefined ? "" : `\n  files at the cut: ${listing.join(", ")}`),
      );
      if (failures.length >= (options.failuresMax ?? 5)) break;
    }
    return { cuts: cuts.length, failures };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(reopen, { recursive: true, force: true });
  }
}

async function checkCut(dir: string, cut: Cut): Promise<string[]> {
  const files = PowerFs.fromImage(dir, cut.image);
  let s;
  try {
    s = await openStorage({ dir, nodeId: 1, segmentBytes: 512, files });
  } catch (error) {
    return [`recovery refused: ${error instanceof Error ? error.message : String(error)}`];
  }
  try {
    const found = problems(s, cut.window);
    if (found.length > 0 || cut.number % 4 !== 0) return found;
    const next = s.log.lastIndex() + 1;
    await s.log.save([normal(next, s.log.hardState().term + 1)], null);
    await s.close();
    s = await openStorage({ dir, nodeId: 1, segmentBytes: 512, files });
    if (s.log.lastIndex() !== next) return [`a save after recovery did not survive a reopen (last index ${s.log.lastIndex()}, want ${next})`];
    return [];
  } finally {
    await s.close();
  }
}
