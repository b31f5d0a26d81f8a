// Child process for the crash tests: works on a data dir in a loop until SIGKILLed, reporting on stdout
// (synchronous writes, so a line is out before the next step begins):
//   "start <lastIndex> <term>"            after open
//   "issue <k> <lo> <hi> <term>"          before save k is called (entries lo..hi, replacing the suffix from lo)
//   "ack <k>"                             once save k resolved (durable)
//   "snap <index> <term>"                 once a snapshot is published and noted (mode "log": then compacts)
// Usage: bun crash_child.ts <dir> <segmentBytes> <mode: log|snap>
import * as fs from "node:fs";
import { openStorage } from "../../src/storage/index.ts";
import type { Entry } from "../../src/raft/types.ts";
import { dataFor } from "./helpers.ts";

const [dir, segmentBytesText, mode] = process.argv.slice(2);
if (dir === undefined || segmentBytesText === undefined) throw new Error("usage: crash_child.ts <dir> <segmentBytes> <mode>");
const storage = await openStorage({ dir, nodeId: 1, segmentBytes: Number(segmentBytesText) });
const log = storage.log;

function say(line: string): void {
  fs.writeSync(1, line + "\n");
}

function rand(n: number): number {
  return Math.floor(Math.random() * n);
}

let term = log.hardState().term + 1;
say(`start ${log.lastIndex()} ${term}`);

if (mode === "snap") {
  // Snapshots of a few MiB published back to back: a kill lands inside the tmp write, fsync or rename.
  for (let k = (storage.snapshots.latestMeta()?.index ?? 0) + 1; ; k++) {
    const meta = { index: k, term: 1, conf: { members: [] } };
    await storage.snapshots.save(meta, dataFor(k, 1, 1 + rand(4 << 20)));
    say(`snap ${k} 1`);
  }
}

const inflight: Promise<void>[] = [];
for (let k = 0; ; k++) {
  if (inflight.length >= 8) await inflight.shift();
  const roll = rand(1000);
  if (roll < 5) {
    // Snapshot at the last durable entry, then compact behind a trailing window of 50.
    await Promise.all(inflight.splice(0));
    const index = log.lastIndex();
    const t = log.term(index);
    if (index > log.snapshotMeta().index && t !== undefined) {
      await storage.snapshots.save({ index, term: t, conf: { members: [] } }, dataFor(index, t, 1024));
      say(`snap ${index} ${t}`);
      await log.compact(Math.max(0, index - 50));
    }
    continue;
  }
  let lo = log.lastIndex() + 1;
  if (roll < 30) {
    // Overwrite a tail (a new leader's conflicting suffix): never below the snapshot.
    lo = Math.max(log.snapshotMeta().index + 1, log.firstIndex(), lo - 1 - rand(12));
    term++;
  }
  const count = 1 + rand(16);
  const entries: Entry[] = [];
  for (let i = lo; i < lo + count; i++) entries.push({ kind: "normal", index: i, term, data: dataFor(i, term, rand(200)) });
  const hi = lo + count - 1;
  say(`issue ${k} ${lo} ${hi} ${term}`);
  inflight.push(log.save(entries, { term, vote: 1, commit: 0 }).then(() => say(`ack ${k}`)));
}
