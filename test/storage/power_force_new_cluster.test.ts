// Power loss during `--force-new-cluster` (src/node/force_new_cluster.ts): a member of a three-voter cluster, with
// a snapshot and log entries beyond its stored commit index (written lazily), is turned into a one-voter cluster
// on PowerFs, and the power is cut before every write, rename, unlink and sync of the conversion (the new
// snapshot's tmp file, its fsync, rename and directory fsync, the log's snapshot records, the hard state, the
// reaping of old snapshots). Every image must open either as the old member (its snapshot and configuration,
// every log entry) or as the new one-voter cluster, with the whole state in both cases (no entry lost, the hard
// state's term and vote kept), and a restart that keeps the flag (as the README says it may) must finish the
// conversion from there.
import { describe, expect, test } from "bun:test";
import { createConsola } from "consola";
import * as fs from "node:fs";
import { KvStateMachine, encodeCommand } from "../../src/kv/index.ts";
import { forceNewCluster } from "../../src/node/force_new_cluster.ts";
import type { Entry, Member, SnapshotMeta } from "../../src/raft/types.ts";
import { openStorage, type FileStorage } from "../../src/storage/index.ts";
import { PowerFs, type PowerImage } from "./power_fs.ts";
import { prng } from "./model_workload.ts";
import { quietWarnings, tempDirsPerTest } from "./helpers.ts";

quietWarnings();
const fresh = tempDirsPerTest("qklzl-power-fnc-");

const segment_bytes = 700;
const silent = createConsola({ level: -999 });
const members: Member[] = [1, 2, 3].map((id) => ({ id, role: "voter" as const, raftAddr: `127.0.0.1:1200${id}`, httpAddr: `127.0.0.1:800${id}` }));
const self = { id: 2, raftAddr: "127.0.0.1:12002", httpAddr: "127.0.0.1:8002" };
/** snapshot_index: the member's snapshot; last_index: its log's end; stored_commit: its lazily written commit. */
const snapshot_index = 6;
const last_index = 24;
const stored_commit = 15;
const hard_term = 3;
const hard_vote = 1;

function put(index: number): Uint8Array {
  return encodeCommand({ op: "put", key: `k${index % 7}`, value: `v${index}` });
}

/** expectedHash: the state after every entry 1..last_index. */
function expectedHash(): string {
  const kv = new KvStateMachine();
  for (let i = 1; i <= last_index; i++) kv.applyEntry(i, put(i));
  return kv.stats().hash;
}

/** memberDir: a three-voter member's dir (snapshot at snapshot_index, log to last_index, commit behind it). */
async function memberDir(dir: string, files: PowerFs): Promise<void> {
  const s = await openStorage({ dir, nodeId: self.id, segmentBytes: segment_bytes, files });
  const kv = new KvStateMachine();
  for (let i = 1; i <= snapshot_index; i++) kv.applyEntry(i, put(i));
  const snap = await kv.snapshot();
  const meta: SnapshotMeta = { index: snapshot_index, term: 2, conf: { members } };
  await s.snapshots.save(meta, snap.data);
  await s.log.installSnapshot(meta);
  for (let i = snapshot_index + 1; i <= last_index; i += 3) {
    const entries: Entry[] = [];
    for (let j = i; j < i + 3 && j <= last_index; j++) entries.push({ kind: "normal", index: j, term: j < 15 ? 2 : hard_term, data: put(j) });
    await s.log.save(entries, { term: hard_term, vote: hard_vote, commit: Math.min(stored_commit, entries[entries.length - 1]!.index) });
  }
  // A second snapshot, with the log compacted behind it: the conversion's snapshot makes the store reap the first.
  for (let i = snapshot_index + 1; i <= 12; i++) kv.applyEntry(i, put(i));
  const second = await kv.snapshot();
  await s.snapshots.save({ index: 12, term: 2, conf: { members } }, second.data);
  await s.log.compact(12);
  await s.close();
}

/** loaded: the dir opened as startNode opens it: storage, and the state machine at the newest snapshot. */
async function loaded(dir: string, files: PowerFs): Promise<{ s: FileStorage; kv: KvStateMachine }> {
  const s = await openStorage({ dir, nodeId: self.id, segmentBytes: segment_bytes, files });
  const kv = new KvStateMachine();
  const snapshot = await s.snapshots.loadLatest();
  if (snapshot !== null) await kv.restore(snapshot.data);
  if (kv.appliedIndex !== s.log.snapshotMeta().index) {
    await s.close();
    throw new Error(`the newest snapshot (${kv.appliedIndex}) is not the one the log starts after (${s.log.snapshotMeta().index})`);
  }
  return { s, kv };
}

/** view: what a node started on the dir would serve: its configuration and the state after its whole log. */
function view(s: FileStorage, kv: KvStateMachine): { voters: number[]; last: number; hash: string; term: number; vote: number } {
  const last = s.log.lastIndex();
  const entries = s.log.entries(s.log.snapshotMeta().index + 1, last + 1, Infinity);
  for (const e of entries) {
    if (e.kind === "normal") kv.applyEntry(e.index, e.data);
    else kv.skip(e.index);
  }
  const voters = s.log.snapshotMeta().conf.members.filter((m) => m.role === "voter").map((m) => m.id);
  const hs = s.log.hardState();
  return { voters, last, hash: kv.stats().hash, term: hs.term, vote: hs.vote };
}

/** check: one image opens as the old member or the new cluster, whole; a restart with the flag converts it. */
async function check(dir: string, image: PowerImage, want: string, seen: Set<string>): Promise<string[]> {
  const files = PowerFs.fromImage(dir, image);
  let opened: { s: FileStorage; kv: KvStateMachine };
  try {
    opened = await loaded(dir, files);
  } catch (error) {
    return [`the dir does not open: ${error instanceof Error ? error.message : String(error)}`];
  }
  const found: string[] = [];
  try {
    const got = view(opened.s, opened.kv);
    const old = got.voters.join(",") === "1,2,3";
    const converted = got.voters.join(",") === String(self.id);
    seen.add(old ? "old" : converted ? "new" : "neither");
    if (!old && !converted) found.push(`voters ${got.voters.join(",")}: neither the old cluster nor the new one`);
    if (got.last !== last_index || got.hash !== want) found.push(`${old ? "old" : "new"} cluster serves up to ${got.last} with hash ${got.hash}; want ${last_index} with ${want}`);
    if (got.term !== hard_term || got.vote !== hard_vote) found.push(`hard state term ${got.term} vote ${got.vote}; want term ${hard_term} vote ${hard_vote}`);
  } finally {
    await opened.s.close();
  }
  if (found.length > 0) return found;
  // Started again with the flag: the conversion finishes (or finds nothing to do), and a plain restart sees it.
  try {
    const again = await loaded(dir, files);
    try {
      await forceNewCluster(again.s, again.kv, self, silent);
    } finally {
      await again.s.close();
    }
    const after = await loaded(dir, files);
    try {
      const got = view(after.s, after.kv);
      if (got.voters.join(",") !== String(self.id) || got.last !== last_index || got.hash !== want) {
        found.push(`after a restart with the flag: voters ${got.voters.join(",")}, up to ${got.last}, hash ${got.hash}`);
      }
    } finally {
      await after.s.close();
    }
  } catch (error) {
    found.push(`a restart with the flag failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return found;
}

describe("power loss during --force-new-cluster", () => {
  test("every cut opens as the old member or as the new one-voter cluster, with every entry and the hard state", async () => {
    const dir = fresh();
    const files = new PowerFs(dir);
    await memberDir(dir, files);
    const want = expectedHash();
    const { s, kv } = await loaded(dir, files);
    const cuts: { number: number; what: string; images: PowerImage[] }[] = [];
    files.options.onMutation = (what) => {
      const number = files.mutations;
      const images = [files.cut({ rand: prng(number), strict: true })];
      for (let k = 1; k <= 3; k++) images.push(files.cut({ rand: prng(number * 31 + k) }));
      cuts.push({ number, what, images });
    };
    let changed: boolean;
    try {
      changed = await forceNewCluster(s, kv, self, silent);
    } finally {
      files.options.onMutation = undefined;
      await s.close();
    }
    expect(changed).toBe(true);
    cuts.push({ number: files.mutations + 1, what: "(the end)", images: [files.cut({ rand: prng(0), strict: true })] });
    const whats = cuts.map((c) => c.what);
    if (process.env.DEBUG_CUTS) console.log(whats.join("\n"));
    // The sweep covered the whole conversion: the snapshot's publication, the log's records and syncs.
    expect(whats.some((w) => w.startsWith("create snap/") && w.endsWith(".tmp"))).toBe(true);
    expect(whats.some((w) => w.startsWith("rename snap/"))).toBe(true);
    expect(whats.filter((w) => w === "fdatasync done").length).toBeGreaterThanOrEqual(2);
    const reopen = fs.existsSync("/dev/shm") ? fs.mkdtempSync("/dev/shm/qklzl-power-fnc-r-") : fresh();
    const failures: string[] = [];
    const seen = new Set<string>();
    try {
      for (const cut of cuts) {
        for (const [k, image] of cut.images.entries()) {
          const found = await check(reopen, image, want, seen);
          if (found.length > 0) failures.push(`cut ${cut.number} (before "${cut.what}", ${k === 0 ? "strict" : `torn ${k}`}): ${found.join("; ")}`);
        }
        if (failures.length >= 5) break;
      }
    } finally {
      fs.rmSync(reopen, { recursive: true, force: true });
    }
    if (failures.length > 0) console.error(`power loss during --force-new-cluster:\n${failures.join("\n")}`);
    expect(failures).toEqual([]);
    expect(cuts.length).toBeGreaterThan(8);
    // The cuts span the switch: some images open as the old member, some as the new cluster.
    expect([...seen].sort()).toEqual(["new", "old"]);
  }, 60_000);
});
