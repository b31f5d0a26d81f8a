import { expect, test } from "bun:test";
import { check, Cluster, fastFlags, freePort, nodeCommand, request, waitFor } from "../../scenarios/harness.ts";
import { formedForThisFile } from "../cluster_fixture.ts";

// `qklzl lock NAME -- CMD`: processes increment a counter (a read, a pause, a write of the value + 1) under the
// lock, while a holder is killed -9 (its lease must release the lock) and then the leader is killed -9. No
// update may be lost: the counter ends at exactly the number of increments. Without the lock the same scripts
// lose updates (the last test shows the workload does detect it).

const cluster = new Cluster({ name: "it-lock", extraArgs: fastFlags });
const timeout = 120_000;
formedForThisFile(cluster, { timeoutMs: timeout });

const rounds = 4;
const lockers = 3;

/** incrementScript: read the counter, pause, write it + 1; each call retried (the same value: idempotent). */
async function incrementScript(addr: string): Promise<string> {
  const bin = (await nodeCommand()).map((part) => `'${part}'`).join(" ");
  const retry = (cmd: string) => `for i in 1 2 3 4 5 6 7 8 9 10; do ${cmd} && break; sleep 0.3; done`;
  return [
    `v=""; ${retry(`v=$(${bin} kv get lockcounter --addr ${addr} 2>/dev/null)`)}`,
    `[ -n "$v" ] || exit 3`,
    "sleep 0.05",
    `${retry(`${bin} kv put lockcounter $((v+1)) --addr ${addr} >/dev/null 2>&1`)} || exit 4`,
  ].join("; ");
}

async function counter(): Promise<number> {
  const leader = await cluster.waitForLeader({ among: cluster.running() });
  const reply = await request(cluster.node(leader.leaderId).httpAddr, "/kv?key=lockcounter");
  return reply.status === 404 ? 0 : Number((reply.json as { value: string }).value);
}

/**
 * runLocker runs `rounds` increments, each under `qklzl lock --addr lockAddrs` (a comma-separated member list:
 * the lock moves to the next member when one dies) or without the lock; the increment itself talks to scriptAddr.
 */
async function runLocker(scriptAddr: string, useLock: boolean, lockAddrs = scriptAddr): Promise<number[]> {
  const codes: number[] = [];
  const script = await incrementScript(scriptAddr);
  for (let i = 0; i < rounds; i++) {
    const argv = useLock ? [...(await nodeCommand()), "lock", "lockname", "--ttl", "2", "--addr", lockAddrs, "--", "sh", "-c", script] : ["sh", "-c", script];
    const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
    const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) console.error(`locker at ${lockAddrs} round ${i}: exit ${code}: ${err.trim()}`);
    codes.push(code);
  }
  return codes;
}

test("lock: no lost increment with a holder killed -9 (its lease releases the lock) and then the leader killed -9", async () => {
  await cluster.explain(async () => {
    const view = await cluster.waitForLeader({ among: cluster.running() });
    const followers = cluster.running().filter((id) => id !== view.leaderId);
    const at = cluster.node(followers[0]!).httpAddr;
    expect((await request(at, "/kv?forward=true", { method: "POST", json: { op: "put", key: "lockcounter", value: "0" } })).status).toBe(200);
    // A holder that would sit on the lock for a minute: killed -9 once it holds it.
    const holder = Bun.spawn([...(await nodeCommand()), "lock", "lockname", "--ttl", "2", "--addr", at, "--", "sleep", "60"], { stdout: "ignore", stderr: "ignore" });
    await waitFor(async () => ((await request(at, `/kv?prefix=${encodeURIComponent("lockname/")}`)).json as { kvs?: unknown[] } | null)?.kvs?.length === 1, {
      deadlineMs: 10_000,
      what: "the first holder's lock key",
    });
    const started = performance.now();
    // Each locker is given every member, starting at a different one: the one starting at the leader has its
    // calls and its watch on the predecessor's delete cut by the leader's kill -9 and must go on elsewhere.
    const members = [view.leaderId, ...followers].map((id) => cluster.node(id).httpAddr);
    const runs = Array.from({ length: lockers }, (_, i) =>
      runLocker(cluster.node(followers[i % followers.length]!).httpAddr, true, [...members.slice(i), ...members.slice(0, i)].join(",")),
    );
    await Bun.sleep(500);
    holder.kill("SIGKILL");
    await holder.exited;
    // The others wait for the dead holder's lease (2 s) before the first increment.
    await waitFor(async () => (await counter()) >= 1, { deadlineMs: 20_000, what: "the first increment after the holder died" });
    check(performance.now() - started >= 2000, "an increment ran while the killed holder's lease was still alive");
    await waitFor(async () => (await counter()) >= 4, { deadlineMs: 30_000, what: "four increments" });
    await cluster.kill9(view.leaderId);
    const codes = (await Promise.all(runs)).flat();
    expect(codes).toEqual(Array(rounds * lockers).fill(0));
    expect(await counter()).toBe(rounds * lockers);
    await cluster.restart(view.leaderId);
    await cluster.waitConverged(cluster.running(), 20_000);
  });
}, timeout);

/** kvRequests: the /kv requests node `id` answered (any method, 2xx), from its /metrics. */
async function kvRequests(id: number): Promise<number> {
  const text = (await request(cluster.node(id).httpAddr, "/metrics")).text;
  const line = text.split("\n").find((l) => l.startsWith('qklzl_http_requests_total{route="/kv",code="2xx"}'));
  return line === undefined ? 0 : Number(line.split(" ").pop());
}

test("a waiter watches its predecessor's key (no polling) and takes the lock right after the holder releases it", async () => {
  await cluster.explain(async () => {
    const bin = await nodeCommand();
    const id = cluster.running()[0]!;
    const at = cluster.node(id).httpAddr;
    const keys = async () => ((await request(at, `/kv?prefix=${encodeURIComponent("wname/")}`)).json as { kvs?: unknown[] } | null)?.kvs?.length ?? 0;
    const holder = Bun.spawn([...bin, "lock", "wname", "--ttl", "5", "--addr", at, "--", "sleep", "4"], { stdout: "ignore", stderr: "pipe" });
    await waitFor(async () => (await keys()) === 1, { deadlineMs: 10_000, what: "the holder's lock key" });
    const waiter = Bun.spawn([...bin, "lock", "wname", "--ttl", "5", "--addr", at, "--", "sh", "-c", "date +%s%3N"], { stdout: "pipe", stderr: "pipe" });
    await waitFor(async () => (await keys()) === 2, { deadlineMs: 10_000, what: "the waiter's lock key" });
    // The waiter has read the range once and watches now; a poll every 100 ms would show ~20 reads in 2 s.
    await Bun.sleep(500);
    const before = await kvRequests(id);
    await Bun.sleep(2000);
    const during = (await kvRequests(id)) - before;
    check(during <= 2, `the waiting lock made ${during} /kv requests in 2 s while the holder held the lock: it polls`);
    const [holderCode, holderErr] = await Promise.all([holder.exited, new Response(holder.stderr).text()]);
    const releasedAt = Date.now();
    expect([holderCode, holderErr]).toEqual([0, ""]);
    const [code, out, err] = await Promise.all([waiter.exited, new Response(waiter.stdout).text(), new Response(waiter.stderr).text()]);
    expect([code, err]).toEqual([0, ""]);
    // The holder's revoke is a delete event: the waiter runs its command soon after the release (2 s: spawns under load).
    const ranAt = Number(out.trim());
    check(ranAt - releasedAt < 2000, `the waiter ran ${ranAt - releasedAt} ms after the holder released the lock`);
    expect(await keys()).toBe(0);
  });
}, timeout);

test("the lock goes on through the next member of --addr when the first one is down", async () => {
  await cluster.explain(async () => {
    const bin = await nodeCommand();
    const at = cluster.node(cluster.running()[0]!).httpAddr;
    const dead = `127.0.0.1:${await freePort()}`;
    const proc = Bun.spawn([...bin, "lock", "dname", "--ttl", "2", "--addr", `${dead},${at}`, "--", "sh", "-c", 'echo "$QKLZL_LOCK_REVISION"'], { stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect([code, err]).toEqual([0, ""]);
    expect(out).toMatch(/^\d+\n$/);
  });
}, timeout);

test("the same workload without the lock loses increments (the check above can fail)", async () => {
  await cluster.explain(async () => {
    const before = await counter();
    const addrs = cluster.running().map((id) => cluster.node(id).httpAddr);
    const codes = (await Promise.all(Array.from({ length: lockers }, (_, i) => runLocker(addrs[i % addrs.length]!, false)))).flat();
    expect(codes).toEqual(Array(rounds * lockers).fill(0));
    expect(await counter()).toBeLessThan(before + rounds * lockers);
  });
}, timeout);

test("elect: one leader at a time; a killed leader's successor takes over after its TTL; a resigned one leaves no leader; --listen follows", async () => {
  await cluster.explain(async () => {
    const bin = await nodeCommand();
    const at = cluster.node(cluster.running()[0]!).httpAddr;
    const listener = Bun.spawn([...bin, "elect", "ename", "--listen", "--addr", at], { stdout: "pipe", stderr: "ignore" });
    const collect = (stream: ReadableStream<Uint8Array>, into: string[]) =>
      (async () => {
        const decoder = new TextDecoder();
        let buffered = "";
        for await (const chunk of stream) {
          buffered += decoder.decode(chunk);
          const parts = buffered.split("\n");
          buffered = parts.pop()!;
          into.push(...parts);
        }
      })();
    const lines: string[] = [];
    const reading = collect(listener.stdout, lines);
    await waitFor(() => lines.includes("(no leader)"), { deadlineMs: 10_000, what: "the listener's first answer" });
    const a = Bun.spawn([...bin, "elect", "ename", "alpha", "--ttl", "2", "--addr", at], { stdout: "pipe", stderr: "ignore" });
    await waitFor(() => lines.includes("alpha"), { deadlineMs: 10_000, what: "the listener to see alpha lead" });
    const b = Bun.spawn([...bin, "elect", "ename", "beta", "--ttl", "2", "--addr", at], { stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(1000);
    check(!lines.includes("beta"), "beta led while alpha did");
    const killedAt = performance.now();
    a.kill("SIGKILL");
    const betaSaid: string[] = [];
    const betaReading = collect(b.stdout, betaSaid);
    await waitFor(() => lines.includes("beta"), { deadlineMs: 15_000, what: "beta to take over once alpha's lease expired" });
    // beta learns it leads through its own watch on alpha's key (the listener may see its key become the oldest first).
    await waitFor(() => betaSaid.length > 0, { deadlineMs: 5000, what: "beta to say it was elected" });
    // alpha's last keepalive was at most TTL/3 before the kill, so its lease lived at least 2 s - 667 ms after it.
    check(performance.now() - killedAt >= 1300, "beta took over before alpha's lease could have expired");
    b.kill("SIGINT");
    expect([await b.exited, await new Response(b.stderr).text()]).toEqual([0, ""]);
    await betaReading;
    expect(betaSaid.length).toBe(1);
    expect(betaSaid[0]).toMatch(/^elected: beta \(key ename\/[0-9a-f]+, revision \d+\)$/);
    await waitFor(() => lines[lines.length - 1] === "(no leader)", { deadlineMs: 10_000, what: "no leader once beta resigned" });
    listener.kill("SIGINT");
    await listener.exited;
    await reading;
    expect(lines).toEqual(["(no leader)", "alpha", "beta", "(no leader)"]);
  });
}, timeout);
