import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { check, Cluster, fastFlags, repoRoot, startWriters, waitFor } from "../../scenarios/harness.ts";
import { SseParser, type WatchEventJson } from "../../src/cli/watch_client.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// Watch against real processes (README, "Watch"): `qklzl watch` on a follower while the leader is killed -9
// and writes go on, then its own node is killed -9: every acknowledged write's event arrives exactly once, in
// revision order, identical to the history read back afterwards; and a watch opened on a follower that was
// just lagging never starts before the revision a linearizable read has already returned.

const cluster = new Cluster({ name: "it-watch", extraArgs: fastFlags });
const timeout = 120_000;

formedForThisFile(cluster, { timeoutMs: timeout });

interface Seen {
  revision: number;
  key: string;
  type: string;
}

/** openSse reads GET /watch on `addr` until `until` says stop (or the deadline); returns the created body and messages. */
async function readWatch(
  addr: string,
  query: string,
  until: (events: Seen[], created: Record<string, unknown> | null) => boolean,
  deadlineMs: number,
): Promise<{ created: Record<string, unknown> | null; events: Seen[] }> {
  const aborter = new AbortController();
  const timer = setTimeout(() => aborter.abort(), deadlineMs);
  const events: Seen[] = [];
  let created: Record<string, unknown> | null = null;
  try {
    const response = await fetch(`http://${addr}/watch?${query}`, { signal: aborter.signal });
    if (!response.ok) check(false, `GET /watch on ${addr}: ${response.status} ${await response.text()}`);
    const parser = new SseParser();
    for await (const chunk of response.body!) {
      for (const message of parser.push(chunk)) {
        const body = JSON.parse(message.data) as Record<string, unknown>;
        if (message.event === "created") created = body;
        else if (message.event === "message") {
          for (const e of body.events as WatchEventJson[]) events.push({ revision: e.revision, key: e.kv.key, type: e.type });
        }
      }
      if (until(events, created)) break;
    }
  } catch (error) {
    if (!aborter.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
    aborter.abort();
  }
  return { created, events };
}

/** WatchCli: `qklzl watch --prefix w/ --json` run from source, its stdout lines parsed as they come. */
interface WatchCli {
  lines: WatchEventJson[];
  notes(): string;
  /** more waits for n more events. */
  more(n: number, what: string): Promise<void>;
  stop(): Promise<void>;
}

async function startWatchCli(ids: number[], prefix: string): Promise<WatchCli> {
  const addrs = ids.map((id) => cluster.node(id).httpAddr).join(",");
  const cli = Bun.spawn([process.execPath, resolve(repoRoot, "src/cli/main.ts"), "watch", "--prefix", prefix, "--json", "--addr", addrs], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: WatchEventJson[] = [];
  let notes = "";
  const readStdout = (async () => {
    let rest = "";
    for await (const chunk of cli.stdout) {
      rest += new TextDecoder().decode(chunk);
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const line of parts) if (line.length > 0) lines.push(JSON.parse(line) as WatchEventJson);
    }
  })();
  const readStderr = (async () => {
    for await (const chunk of cli.stderr) notes += new TextDecoder().decode(chunk);
  })();
  await waitFor(() => notes.includes("watching"), { deadlineMs: 15_000, what: "the watch to start" });
  return {
    lines,
    notes: () => notes,
    async more(n, what) {
      const target = lines.length + n;
      await waitFor(() => lines.length >= target, { deadlineMs: 30_000, what: `${n} more watch events ${what}` });
    },
    async stop() {
      cli.kill("SIGINT");
      await cli.exited;
      await Promise.all([readStdout, readStderr]);
    },
  };
}

/**
 * checkExactlyOnce: every acknowledged write (each key written once) is in the CLI's lines once, with its
 * value, revisions strictly increase, and the lines equal the history replayed from `replayVia` afterwards.
 */
async function checkExactlyOnce(cli: WatchCli, acked: Map<string, string>, prefix: string, replayVia: number): Promise<void> {
  const lines = cli.lines;
  const seenKeys = () => new Set(lines.map((l) => l.kv.key));
  await waitFor(() => [...acked.keys()].every((k) => seenKeys().has(k)), { deadlineMs: 20_000, what: "every acknowledged write in the watch" });
  await Bun.sleep(500); // anything duplicated or late would show up now
  for (let i = 1; i < lines.length; i++) {
    check(lines[i]!.revision > lines[i - 1]!.revision, `line ${i}: revision ${lines[i]!.revision} after ${lines[i - 1]!.revision}`);
  }
  check(seenKeys().size === lines.length, "no key (each written once) seen twice");
  for (const [key, value] of acked) {
    const line = lines.find((l) => l.kv.key === key)!;
    check(line.type === "put" && line.kv.value === value, `${key}: the acknowledged value`);
  }
  // And it is the history: a fresh watch from the first revision seen, on a live node, gives the same.
  const first = lines[0]!.revision;
  const last = lines.at(-1)!.revision;
  const replay = await readWatch(
    cluster.node(replayVia).httpAddr,
    `prefix=${encodeURIComponent(prefix)}&start_revision=${first}`,
    (events) => events.length > 0 && events.at(-1)!.revision >= last,
    20_000,
  );
  const truth = replay.events.filter((e) => e.revision <= last).map((e) => `${e.revision} ${e.key}`);
  expect(lines.map((l) => `${l.revision} ${l.kv.key}`)).toEqual(truth);
  check(cli.notes().includes("trying another member") || cli.notes().includes("on another member"), `the CLI moved to another member:\n${cli.notes()}`);
}

async function restartStopped(): Promise<void> {
  for (const id of cluster.ids) {
    if (cluster.isRunning(id)) continue;
    await cluster.start(id, { join: cluster.running()[0]! });
    await cluster.waitHttp(id);
  }
  await cluster.waitConverged(cluster.running());
}

test("qklzl watch on a follower: the leader killed -9, then its own node: every acknowledged write once, in order, as in history", async () => {
  await cluster.explain(async () => {
    const { leaderId } = await cluster.waitForLeader({ among: [1, 2, 3] });
    const [watched, other] = [1, 2, 3].filter((id) => id !== leaderId) as [number, number];
    const cli = await startWatchCli([watched, other, leaderId], "w/");
    try {
      const writers = startWriters(cluster, { writers: 2, prefix: "w/", requestTimeoutMs: 2_000 });
      try {
        await cli.more(30, "before any fault");
        await cluster.kill9(leaderId);
        await cluster.waitForLeader({ among: [watched, other], deadlineMs: 15_000 });
        await cli.more(30, `with node ${leaderId} (the leader) killed`);
        await cluster.start(leaderId, { join: other });
        await cluster.waitHttp(leaderId);
        await cluster.waitConverged([watched, other, leaderId]);
        await cluster.kill9(watched);
        await cluster.waitForLeader({ among: [other, leaderId], deadlineMs: 15_000 });
        await cli.more(30, `with node ${watched} (the watched one) killed`);
      } finally {
        await writers.stop();
      }
      await checkExactlyOnce(cli, writers.log.acked, "w/", other);
    } finally {
      await cli.stop();
    }
    await restartStopped();
  });
}, timeout);

test("qklzl watch on a frozen follower (SIGSTOP, its socket open but silent) moves to another member without a gap", async () => {
  await cluster.explain(async () => {
    await restartStopped();
    const { leaderId } = await cluster.waitForLeader({ among: cluster.running() });
    const [frozen, other] = cluster.running().filter((id) => id !== leaderId) as [number, number];
    const cli = await startWatchCli([frozen, other, leaderId], "s/");
    const writers = startWriters(cluster, { writers: 2, prefix: "s/", requestTimeoutMs: 2_000 });
    try {
      try {
        await cli.more(20, "before the freeze");
        cluster.pause(frozen);
        await cli.more(20, `with node ${frozen} frozen (after the CLI's silence timeout)`);
      } finally {
        await writers.stop();
        cluster.resume(frozen);
      }
      await checkExactlyOnce(cli, writers.log.acked, "s/", other);
      check(cli.notes().includes("no data from"), `the CLI gave up on the silent member:\n${cli.notes()}`);
    } finally {
      await cli.stop();
    }
  });
}, timeout);

test("a watch opened on a follower that was lagging starts at or after the revision a linearizable read returned", async () => {
  await cluster.explain(async () => {
    await restartStopped();
    for (let round = 0; round < 4; round++) {
      const { leaderId } = await cluster.waitForLeader({ among: cluster.running() });
      const follower = cluster.running().find((id) => id !== leaderId)!;
      cluster.pause(follower);
      let readRevision = 0;
      try {
        for (let i = 0; i < 40; i++) {
          const reply = await cluster.put(leaderId, `lag/${round}-${i}`, `${i}`);
          check(reply.status === 200, `put on the leader: ${reply.status}`);
        }
        // The read completes while the follower is still frozen, 40 entries behind.
        const read = await cluster.get(leaderId, `lag/${round}-39`);
        check(read.status === 200, `linearizable read: ${read.status}`);
        readRevision = read.json!.revision as number;
      } finally {
        cluster.resume(follower);
      }
      const { created } = await readWatch(cluster.node(follower).httpAddr, "prefix=lag/", (_e, c) => c !== null, 10_000);
      check(created !== null, "the watch was created");
      check((created.revision as number) >= readRevision, `round ${round}: watch on follower ${follower} starts at ${created.revision}, before the read's revision ${readRevision}`);
    }
  });
}, timeout);
