import { afterAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { Launcher, waitFor } from "../../src/cli/launcher/index.ts";
import { clusterTls, issue, type ClusterTls } from "../../src/cli/tls_pki.ts";
import { fastFlags } from "../../scenarios/harness.ts";
import { openssl_missing, servedSerial, tlsFixture } from "../support/tls_fixture.ts";

// TLS end to end with real processes (bin/qklzl via `bun src/cli/main.ts`): a 3-node cluster with TLS on the
// HTTP and peer ports forms, writes and reads through the CLI's --cacert/--cert/--key; strangers are refused;
// SIGHUP swaps the served certificate. Certificates are made here with openssl (skipped without it).

const timeout = 90_000;
const repo = path.join(import.meta.dir, "..", "..");
const main = path.join(repo, "src", "cli", "main.ts");
const fx = openssl_missing === null ? tlsFixture() : null;
const launchers: Launcher[] = [];
afterAll(async () => {
  await Promise.all(launchers.map((l) => l.destroy()));
  fx?.cleanup();
});

function cli(args: string[]): { code: number; out: string; err: string } {
  const run = Bun.spawnSync([process.execPath, main, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  return { code: run.exitCode, out: run.stdout.toString(), err: run.stderr.toString() };
}

function tlsCluster(name: string, tls: ClusterTls, size = 3): Launcher {
  const launcher = new Launcher({ name, size, extraArgs: fastFlags, nodeArgs: (id) => tls.nodeArgs(id), http: tls.http, command: [process.execPath, main] });
  launchers.push(launcher);
  return launcher;
}

async function fetchCode(url: string, tlsOptions: Record<string, string | boolean>): Promise<string> {
  try {
    const response = await fetch(url, { tls: tlsOptions, signal: AbortSignal.timeout(5000) } as RequestInit);
    return String(response.status);
  } catch (error) {
    return (error as Error & { code?: string }).code ?? (error as Error).message;
  }
}

describe.skipIf(fx === null)("TLS on the HTTP API and the peer ports", () => {
  test("a 3-node cluster with TLS on every port forms, writes and reads; strangers are refused", async () => {
    const tls = clusterTls(path.join(fx!.root, "cluster"), [1, 2, 3], { clientCertAuth: true });
    const cluster = tlsCluster("tls3", tls);
    const { leaderId } = await cluster.startFresh({ deadlineMs: 60_000 });
    const follower = [1, 2, 3].find((id) => id !== leaderId)!;
    const creds = ["--cacert", tls.client.ca, "--cert", tls.client.cert, "--key", tls.client.key];
    // A write sent to a follower follows the 307 (https Location) to the leader.
    const put = cli(["kv", "put", "greeting", "hello over tls", "--addr", cluster.node(follower).httpAddr, ...creds]);
    expect({ code: put.code, err: put.err }).toEqual({ code: 0, err: "" });
    for (const id of [1, 2, 3]) {
      const get = cli(["kv", "get", "greeting", "--addr", `https://${cluster.node(id).httpAddr}`, ...creds]);
      expect({ code: get.code, out: get.out.trim() }).toEqual({ code: 0, out: "hello over tls" });
    }
    const leaderAddr = cluster.node(leaderId).httpAddr;
    const ca = readFileSync(tls.client.ca, "utf8");
    // --client-cert-auth: no client certificate → refused at the handshake; a stranger's CA → refused.
    expect(await fetchCode(`https://${leaderAddr}/status`, { ca })).not.toBe("200");
    const stranger = fx!.issue("stranger", { by: "other" });
    expect(await fetchCode(`https://${leaderAddr}/status`, { ca, cert: readFileSync(stranger.cert, "utf8"), key: readFileSync(stranger.key, "utf8") })).not.toBe("200");
    expect(await fetchCode(`https://${leaderAddr}/status`, { ca, cert: readFileSync(tls.client.cert, "utf8"), key: readFileSync(tls.client.key, "utf8") })).toBe("200");
    // The server certificate is not from the stranger's CA: a client trusting only that one refuses it.
    expect(await fetchCode(`https://${leaderAddr}/status`, { ca: readFileSync(fx!.other.ca.cert, "utf8") })).not.toBe("200");
    // Plaintext HTTP to the TLS port gets no answer.
    expect(await fetchCode(`http://${leaderAddr}/status`, {})).not.toBe("200");
    // The CLI without the client certificate fails with a clear message.
    const refused = cli(["kv", "get", "greeting", "--addr", leaderAddr, "--cacert", tls.client.ca]);
    expect(refused.code).not.toBe(0);
    // The expiry gauge is in /metrics.
    const text = await (await fetch(`https://${leaderAddr}/metrics`, { tls: tls.http.tls } as RequestInit)).text();
    expect(text).toMatch(/qklzl_cert_expiry_seconds\{role="peer",path="[^"]+node\d\.crt"\} \d+/);
    expect(text).toMatch(/qklzl_cert_expiry_seconds\{role="http",[^}]+\} \d+/);
  }, timeout);

  test("a node with a peer certificate from another CA is refused at the peer handshake and never joins", async () => {
    const tls = clusterTls(path.join(fx!.root, "cluster2"), [1, 2]);
    const cluster = tlsCluster("tls-stranger", tls, 2);
    const stranger = issue(fx!.other, "intruder", { dir: path.join(fx!.root, "intruder") });
    // Node 2 trusts the right CAs (so its HTTP join reaches node 1) but its peer certificate is a stranger's.
    const args = [...tls.nodeArgs(2)];
    const at = (flag: string) => args.indexOf(flag) + 1;
    args[at("--peer-cert-file")] = stranger.cert;
    args[at("--peer-key-file")] = stranger.key;
    await cluster.start(1, { bootstrap: true });
    await cluster.waitHttp(1);
    await waitFor(async () => (await cluster.status(1))?.is_leader || null, { deadlineMs: 20_000, what: "node 1 to lead" });
    const two = cluster.node(2);
    await cluster.spawn(2, ["-id", "2", "-data-dir", two.dataDir, "-join", cluster.node(1).httpAddr, "-raft-addr", two.raftAddr, "-http-addr", two.httpAddr, ...fastFlags, ...args]);
    // Node 1 dials the learner and refuses its certificate; the learner's links to node 1 are refused too.
    const refusal = /TLS handshake with peer 2 at \S+ failed: \w+|refused a peer connection from 127\.0\.0\.1 at the TLS handshake: \w+/;
    const logs = () => readFileSync(cluster.node(1).logPath, "utf8") + readFileSync(two.logPath, "utf8");
    await waitFor(() => refusal.test(readFileSync(cluster.node(1).logPath, "utf8")) || null, { deadlineMs: 20_000, what: "node 1 to log the refused handshake" });
    await Bun.sleep(1000);
    const status = await cluster.status(1);
    // Never caught up: no log entry ever reached it, so it stays a learner with nothing matched.
    expect(status?.members.find((m) => m.id === 2)).toMatchObject({ role: "learner", match_index: 0 });
    expect(logs()).toMatch(refusal);
  }, timeout);

  test("SIGHUP reloads the certificates: the served serial changes; an expiring one is warned about", async () => {
    const tls = clusterTls(path.join(fx!.root, "cluster3"), [1]);
    const cluster = tlsCluster("tls-reload", tls, 1);
    await cluster.start(1, { bootstrap: true });
    await cluster.waitHttp(1, 20_000);
    const addr = cluster.node(1).httpAddr;
    const node1 = cluster.node(1);
    const probe = { ca: readFileSync(tls.client.ca, "utf8") };
    const before = await servedSerial(addr, probe);
    const beforePeer = await servedSerial(node1.raftAddr, { ...probe, cert: tls.http.tls.cert, key: tls.http.tls.key });
    expect(before).toBe(new X509Certificate(readFileSync(path.join(tls.pki.dir, "node1.crt"))).serialNumber);
    // Renew in place with a certificate that runs out in 3 days, then SIGHUP.
    const renewed = issue(tls.pki, "renewed", { days: 3, dir: path.join(fx!.root, "renewed") });
    copyFileSync(renewed.key, path.join(tls.pki.dir, "node1.key"));
    copyFileSync(renewed.cert, path.join(tls.pki.dir, "node1.crt"));
    node1.proc!.kill("SIGHUP");
    const expected = new X509Certificate(readFileSync(renewed.cert)).serialNumber;
    await waitFor(async () => ((await servedSerial(addr, probe).catch(() => "")) === expected) || null, { deadlineMs: 10_000, what: "the HTTP port to serve the renewed certificate" });
    const afterPeer = await servedSerial(node1.raftAddr, { ...probe, cert: tls.http.tls.cert, key: tls.http.tls.key });
    expect(afterPeer).toBe(expected);
    expect(afterPeer).not.toBe(beforePeer);
    const log = readFileSync(node1.logPath, "utf8");
    expect(log).toMatch(/SIGHUP received, reloading TLS certificates/);
    expect(log).toMatch(/TLS reloaded \(http serial \w+, peer serial \w+\)/);
    expect(log).toMatch(/certificate \S+node1\.crt \(serial \w+\) expires in 3\.0 days/);
    // The node still serves after the swap.
    const get = cli(["status", "--addr", addr, "--cacert", tls.client.ca, "--cert", tls.client.cert, "--key", tls.client.key]);
    expect(get.code).toBe(0);
    // Without a signal: replacing the files is noticed by the node's watch (polled every 2 s).
    const third = issue(tls.pki, "third", { dir: path.join(fx!.root, "third") });
    copyFileSync(third.key, path.join(tls.pki.dir, "node1.key"));
    copyFileSync(third.cert, path.join(tls.pki.dir, "node1.crt"));
    const thirdSerial = new X509Certificate(readFileSync(third.cert)).serialNumber;
    await waitFor(async () => ((await servedSerial(addr, probe).catch(() => "")) === thirdSerial) || null, { deadlineMs: 15_000, what: "the file watch to load the third certificate" });
    expect(readFileSync(node1.logPath, "utf8")).toMatch(/certificate files changed: TLS reloaded/);
  }, timeout);

  test("a node given an expired certificate starts with a loud warning, and peers refuse it", async () => {
    const pki = fx!.ca;
    const old = issue(pki, "expired", { days: -1, dir: path.join(fx!.root, "expired") });
    const cluster = new Launcher({ name: "tls-expired", size: 1, extraArgs: fastFlags, command: [process.execPath, main] });
    launchers.push(cluster);
    const ca = pki.ca.cert;
    await cluster.start(1, { bootstrap: true, extraArgs: ["--peer-cert-file", old.cert, "--peer-key-file", old.key, "--peer-trusted-ca-file", ca] });
    await cluster.waitHttp(1, 20_000);
    await waitFor(() => /peer certificate \S+ \(serial \w+\) EXPIRED/.test(readFileSync(cluster.node(1).logPath, "utf8")) || null, { deadlineMs: 10_000, what: "the expiry warning" });
    const metrics = await (await fetch(`http://${cluster.node(1).httpAddr}/metrics`)).text();
    expect(metrics).toMatch(/qklzl_cert_expiry_seconds\{role="peer",[^}]+\} -\d+/);
    // A peer with a good certificate from the same CA refuses the expired one it is shown.
    const good = fx!.pem(fx!.issue("good"));
    const code = await fetchCode(`https://${cluster.node(1).raftAddr}/`, { ca: good.ca, cert: good.cert, key: good.key });
    expect(code).not.toBe("200");
    expect(code).toMatch(/EXPIRED|expired|CERT/i);
  }, timeout);
});
