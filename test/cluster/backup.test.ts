import { afterAll, describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { fastFlags, nodeCommand, request, startWriters, waitFor } from "../../scenarios/harness.ts";
import { EtcdCluster } from "./etcd_support.ts";

// Issue 15, "Backup, restore, disaster recovery", against real processes of the binary: a backup taken from a
// 3-node cluster under write load restores into a new one-node cluster with the same state (hash and every key
// at the backup's revision); a corrupted backup is refused; etcdctl snapshot save works against qklzl; and
// --force-new-cluster brings one survivor of a lost majority back with every acknowledged write it holds.

const etcdctl = Bun.which("etcdctl");
if (etcdctl === null) console.log("SKIP (etcdctl part of) test/cluster/backup.test.ts: etcdctl not found on PATH (apt-get install -y etcd-client)");

interface Run {
  code: number;
  out: string;
  err: string;
}

async function qklzl(...args: string[]): Promise<Run> {
  const proc = Bun.spawn([...(await nodeCommand()), ...args], { env: { ...process.env, CI: "true", NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out.trim(), err: err.trim() };
}

async function ok(...args: string[]): Promise<string> {
  const run = await qklzl(...args);
  if (run.code !== 0) throw new Error(`qklzl ${args.join(" ")} exited ${run.code}: ${run.err} ${run.out}`);
  return run.out;
}

interface Kv {
  key: string;
  value: string;
  create_revision: number;
  mod_revision: number;
  version: number;
}

/** rangeAll: every key of the node at `addr` (at `revision` when given), stale or linearizable. */
async function rangeAll(addr: string, revision?: number): Promise<Kv[]> {
  const at = revision === undefined ? "" : `&revision=${revision}`;
  const reply = await request(addr, `/kv?prefix=${at}&consistency=stale`, { timeoutMs: 10_000 });
  if (reply.status !== 200) throw new Error(`range on ${addr}: HTTP ${reply.status} ${JSON.stringify(reply.json)}`);
  return ((reply.json as { kvs: Kv[] }).kvs ?? []).map((kv) => ({ key: kv.key, value: kv.value, create_revision: kv.create_revision, mod_revision: kv.mod_revision, version: kv.version }));
}

async function status(addr: string): Promise<Record<string, unknown>> {
  const reply = await request(addr, "/status", { timeoutMs: 5_000 });
  return reply.json as Record<string, unknown>;
}

describe("backup and restore", () => {
  const cluster = new EtcdCluster({ name: "backup", size: 5, extraArgs: [...fastFlags, "--snapshot-entries", "300", "--trailing-entries", "100"] });
  afterAll(async () => {
    await cluster.destroy();
  });

  test("a backup taken under load restores into a new cluster with the same state at its revision", async () => {
    await cluster.explain(() => cluster.startFresh({ ids: [1, 2, 3] }));
    const writers = startWriters(cluster, { writers: 3, prefix: "bk-" });
    await waitFor(() => writers.log.acked.size >= 200 || null, { deadlineMs: 30_000, what: "200 acknowledged writes" });
    const file = path.join(cluster.root, "under-load.backup");
    const follower = (await cluster.waitForLeader({ deadlineMs: 10_000 })).leaderId === 2 ? 3 : 2;
    const saved = await ok("snapshot", "save", file, "--addr", cluster.node(follower).httpAddr);
    const ackedBefore = writers.log.acked.size;
    await waitFor(() => writers.log.acked.size >= ackedBefore + 50 || null, { deadlineMs: 30_000, what: "writes after the save" });
    await writers.stop();
    expect(saved).toMatch(/^Saved .*: revision \d+, \d+ keys, \d+ bytes/);

    const summary = JSON.parse(await ok("snapshot", "status", file, "--json")) as { revision: number; keys: number; size: number; hash: string; sha256: string };
    expect(summary.size).toBe(fs.statSync(file).size);
    expect(summary.keys).toBeGreaterThanOrEqual(200);

    const restored = cluster.node(4);
    await ok("snapshot", "restore", file, "--data-dir", restored.dataDir, "--id", "4", "--raft-addr", restored.raftAddr, "--http-addr", restored.httpAddr);
    await cluster.start(4);
    await waitFor(async () => (await status(restored.httpAddr).catch(() => null))?.is_leader === true || null, { deadlineMs: 20_000, what: "the restored node leads its new cluster" });
    const restoredStatus = await status(restored.httpAddr);
    const sourceStatus = await status(cluster.node(1).httpAddr);
    // A new cluster, with the state of the backup: qklzl check's hash is the backup's, the keys those of the
    // source at the backup's revision (read from the source's history, which kept on changing meanwhile).
    expect(restoredStatus.cluster_id).not.toBe(sourceStatus.cluster_id);
    expect(restoredStatus.kv_hash).toBe(summary.hash);
    expect(restoredStatus.kv_keys).toBe(summary.keys);
    const atRevision = await rangeAll(cluster.node(1).httpAddr, summary.revision);
    const onRestored = await rangeAll(restored.httpAddr);
    expect(onRestored.length).toBe(summary.keys);
    expect(onRestored).toEqual(atRevision);
    expect((await rangeAll(cluster.node(1).httpAddr)).length).toBeGreaterThan(onRestored.length);

    // It takes writes, and a new node joins it.
    const put = await request(restored.httpAddr, "/kv", { json: { op: "put", key: "after-restore", value: "1" } });
    expect(put.status).toBe(200);
    await cluster.start(5, { join: 4 });
    await waitFor(async () => {
      const s = await status(restored.httpAddr);
      return (s.members as { id: number; role: string }[]).some((m) => m.id === 5 && m.role === "voter") || null;
    }, { deadlineMs: 30_000, what: "node 5 joins the restored cluster as a voter" });
    await waitFor(async () => (await status(cluster.node(5).httpAddr).catch(() => null))?.kv_hash === (await status(restored.httpAddr)).kv_hash || null, {
      deadlineMs: 20_000,
      what: "node 5 agrees with the restored node",
    });

    // Restoring into a directory that holds data changes nothing.
    const again = await qklzl("snapshot", "restore", file, "--data-dir", restored.dataDir, "--id", "4", "--raft-addr", restored.raftAddr, "--http-addr", restored.httpAddr);
    expect(again.code).not.toBe(0);
    expect(again.err).toContain("data_dir_not_empty");
  }, 180_000);

  test("snapshot status and restore refuse a corrupted or truncated file", async () => {
    const file = path.join(cluster.root, "under-load.backup");
    const bytes = fs.readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x40;
    const bad = path.join(cluster.root, "flipped.backup");
    fs.writeFileSync(bad, flipped);
    const run = await qklzl("snapshot", "status", bad);
    expect(run.code).not.toBe(0);
    expect(run.err).toContain("backup_corrupt");
    expect(run.err).toContain("sha256 mismatch");
    const cut = path.join(cluster.root, "cut.backup");
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const truncated = await qklzl("snapshot", "status", cut);
    expect(truncated.code).not.toBe(0);
    expect(truncated.err).toContain("truncated");
    const dir = path.join(cluster.root, "never");
    const restore = await qklzl("snapshot", "restore", bad, "--data-dir", dir, "--id", "9", "--raft-addr", "127.0.0.1:1", "--http-addr", "127.0.0.1:2");
    expect(restore.code).not.toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
  }, 60_000);

  test.skipIf(etcdctl === null)("etcdctl snapshot save against qklzl writes a qklzl backup", async () => {
    const file = path.join(cluster.root, "etcdctl.backup");
    const proc = Bun.spawn([etcdctl!, `--endpoints=${cluster.grpcAddr(2)}`, "--dial-timeout=5s", "--command-timeout=30s", "snapshot", "save", file], {
      env: { ...process.env, ETCDCTL_API: "3" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`etcdctl snapshot save exited ${code}: ${err} ${out}`);
    const summary = JSON.parse(await ok("snapshot", "status", file, "--json")) as { keys: number; hash: string };
    expect(summary.keys).toBeGreaterThanOrEqual(200);
    // The body is qklzl's image, not etcd's bbolt database: etcdctl snapshot status cannot read it (README).
    const statusProc = Bun.spawn([etcdctl!, "snapshot", "status", file], { env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
    expect(await statusProc.exited).not.toBe(0);
  }, 60_000);
});

describe("force-new-cluster", () => {
  const cluster = new EtcdCluster({ name: "force-new", size: 4, extraArgs: fastFlags });
  afterAll(async () => {
    await cluster.destroy();
  });

  test("one survivor of a lost majority keeps every acknowledged write it holds, takes writes, and a new node joins it", async () => {
    const leader = await cluster.explain(() => cluster.startFresh({ ids: [1, 2, 3] }));
    const writers = startWriters(cluster, { writers: 3, prefix: "fnc-" });
    await waitFor(() => writers.log.acked.size >= 300 || null, { deadlineMs: 30_000, what: "300 acknowledged writes" });
    // The survivor is a follower: its stored commit index lags (commit-only changes are not written), so only
    // replaying its whole log keeps everything acknowledged. The other follower dies first: from then on a write
    // is acknowledged only once the survivor holds it, and with it (log matching) every write before it.
    const survivor = [1, 2, 3].find((id) => id !== leader.leaderId)!;
    const other = [1, 2, 3].find((id) => id !== leader.leaderId && id !== survivor)!;
    await cluster.kill9(other);
    const before = writers.log.acked.size;
    await waitFor(() => writers.log.acked.size >= before + 50 || null, { deadlineMs: 30_000, what: "writes acknowledged by leader + survivor" });
    await cluster.kill9(leader.leaderId);
    const log = await writers.stop();
    const survivorDir = cluster.node(survivor).dataDir;
    await cluster.kill9(survivor);

    await cluster.start(survivor, { extraArgs: ["-force-new-cluster"] });
    const addr = cluster.node(survivor).httpAddr;
    await waitFor(async () => (await status(addr).catch(() => null))?.is_leader === true || null, { deadlineMs: 20_000, what: "the survivor leads alone" });
    const s = await status(addr);
    expect((s.members as { id: number }[]).map((m) => m.id)).toEqual([survivor]);
    const held = new Map((await rangeAll(addr)).map((kv) => [kv.key, kv.value]));
    const missing = [...log.acked].filter(([key, value]) => held.get(key) !== value).map(([key]) => key);
    expect(log.acked.size).toBeGreaterThanOrEqual(350);
    expect(missing).toEqual([]);
    const text = fs.readFileSync(cluster.node(survivor).logPath, "utf8");
    expect(text).toContain("--force-new-cluster: node");
    expect(text).toContain("is now the only voter");

    const put = await request(addr, "/kv", { json: { op: "put", key: "after-force", value: "1" } });
    expect(put.status).toBe(200);
    // A restart without the flag keeps the one-voter configuration (it was written to disk).
    await cluster.kill9(survivor);
    await cluster.start(survivor);
    await waitFor(async () => (await status(addr).catch(() => null))?.is_leader === true || null, { deadlineMs: 20_000, what: "the survivor leads again after a restart" });
    expect(fs.existsSync(survivorDir)).toBe(true);
    await cluster.start(4, { join: survivor });
    await waitFor(async () => {
      const st = await status(addr);
      return (st.members as { id: number; role: string }[]).some((m) => m.id === 4 && m.role === "voter") || null;
    }, { deadlineMs: 30_000, what: "node 4 joins the survivor as a voter" });
    const after = await request(cluster.node(4).httpAddr, "/kv?key=after-force&consistency=linearizable", { timeoutMs: 10_000 });
    expect(after.status).toBe(200);
  }, 180_000);
});

describe("restore with --initial-members", () => {
  const cluster = new EtcdCluster({ name: "restore-members", size: 6, extraArgs: fastFlags });
  afterAll(async () => {
    await cluster.destroy();
  });

  test("three separate restores of one backup form one 3-voter cluster with the backup's state", async () => {
    await cluster.explain(() => cluster.startFresh({ ids: [1, 2, 3] }));
    for (let i = 0; i < 50; i++) {
      const put = await request(cluster.node(1).httpAddr, "/kv", { json: { op: "put", key: `rm-${i}`, value: `v${i}` }, timeoutMs: 10_000 });
      if (put.status === 307) {
        const leader = (await cluster.waitForLeader({ deadlineMs: 10_000 })).leaderId;
        expect((await request(cluster.node(leader).httpAddr, "/kv", { json: { op: "put", key: `rm-${i}`, value: `v${i}` } })).status).toBe(200);
      } else expect(put.status).toBe(200);
    }
    const file = path.join(cluster.root, "members.backup");
    await ok("snapshot", "save", file, "--addr", cluster.node(2).httpAddr);
    const summary = JSON.parse(await ok("snapshot", "status", file, "--json")) as { revision: number; keys: number; hash: string };
    expect(summary.keys).toBe(50);
    await cluster.stopAll();

    const ids = [4, 5, 6];
    const list = ids.map((id) => `${id}=${cluster.node(id).raftAddr}/${cluster.node(id).httpAddr}`).join(",");
    const restoreArgs = (id: number, over: { raftAddr?: string; httpAddr?: string; members?: string } = {}) => [
      "snapshot", "restore", file, "--data-dir", cluster.node(id).dataDir, "--id", String(id),
      "--raft-addr", over.raftAddr ?? cluster.node(id).raftAddr, "--http-addr", over.httpAddr ?? cluster.node(id).httpAddr,
      "--initial-members", over.members ?? list,
    ];
    // A run whose own flags disagree with its entry (or that is not in the list) is a usage error and writes nothing.
    const wrongAddr = await qklzl(...restoreArgs(4, { httpAddr: cluster.node(5).httpAddr }));
    expect(wrongAddr.code).toBe(2);
    expect(wrongAddr.err).toContain("must match");
    const notListed = await qklzl(...restoreArgs(4, { members: ids.slice(1).map((id) => `${id}=${cluster.node(id).raftAddr}/${cluster.node(id).httpAddr}`).join(",") }));
    expect(notListed.code).toBe(2);
    expect(notListed.err).toContain("is not in --initial-members");
    expect(fs.existsSync(cluster.node(4).dataDir)).toBe(false);

    const outputs: string[] = [];
    for (const id of ids) outputs.push(await ok(...restoreArgs(id)));
    const clusterIds = outputs.map((out) => /new cluster (\S+),/.exec(out)?.[1]);
    expect(clusterIds[0]).toBeDefined();
    expect(new Set(clusterIds).size).toBe(1);

    for (const id of ids) await cluster.start(id); // no -bootstrap, no -join
    const leader = await cluster.waitForLeader({ among: ids, deadlineMs: 20_000, what: "the restored members elect a leader" });
    expect(ids).toContain(leader.leaderId);
    const leaderStatus = await status(cluster.node(leader.leaderId).httpAddr);
    expect(leaderStatus.cluster_id).toBe(clusterIds[0]);
    expect((leaderStatus.members as { id: number; role: string }[]).map((m) => `${m.id}:${m.role}`)).toEqual(["4:voter", "5:voter", "6:voter"]);
    for (const id of ids) {
      const s = await status(cluster.node(id).httpAddr);
      expect(s.kv_hash).toBe(summary.hash);
      const kvs = await rangeAll(cluster.node(id).httpAddr);
      expect(kvs.length).toBe(50);
      expect(kvs.find((kv) => kv.key === "rm-7")?.value).toBe("v7");
    }

    // A write is replicated to all three, and all three agree on the hash after it.
    const put = await request(cluster.node(leader.leaderId).httpAddr, "/kv", { json: { op: "put", key: "after-members-restore", value: "yes" } });
    expect(put.status).toBe(200);
    await waitFor(async () => {
      const values = await Promise.all(ids.map(async (id) => (await rangeAll(cluster.node(id).httpAddr)).find((kv) => kv.key === "after-members-restore")?.value));
      return values.every((v) => v === "yes") || null;
    }, { deadlineMs: 20_000, what: "the write reaches all three restored members" });
    await cluster.waitConverged(ids);
    const hashes = await Promise.all(ids.map(async (id) => (await status(cluster.node(id).httpAddr)).kv_hash));
    expect(new Set(hashes).size).toBe(1);
    expect(hashes[0]).not.toBe(summary.hash);
    // The restored configuration records no incarnation (restore.ts says why): each member has its own
    // recorded through the log at its first start, an update_addr every member applies.
    await waitFor(() => ids.every((id) => ids.every((member) => fs.readFileSync(cluster.node(id).logPath, "utf8").includes(`membership: node ${member} address updated`))) || null, {
      deadlineMs: 20_000,
      what: "every member's incarnation recorded in every member's configuration",
    });
  }, 180_000);
});
