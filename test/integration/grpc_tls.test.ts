import { afterAll, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canListen, CheckError, waitFor } from "../../src/cli/launcher/index.ts";
import { issue, type Pki } from "../../src/cli/tls_pki.ts";
import { openssl_missing, servedSerial } from "../support/tls_fixture.ts";

// `npm start -- --tls` end to end (scripts/cluster.ts from source, free ports): the etcd gRPC ports serve TLS
// with the nodes' certificates, the etcdctl examples it prints work as printed (--cacert/--cert/--key, with and
// without https://), and renewing node 1's certificate files is picked up by the gRPC port without a restart.

const etcdctl = Bun.which("etcdctl");
if (etcdctl === null) console.log("SKIP test/integration/grpc_tls.test.ts: etcdctl not found on PATH (apt-get install -y etcd-client)");
const repo = join(import.meta.dir, "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "qklzl-grpc-tls-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function freeBase(): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    if ([1, 2, 3].every((i) => canListen(base + i))) return base;
  }
  throw new Error("no free port range found");
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(argv, { cwd: repo, env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out.trim(), err: err.trim() };
}

test.skipIf(etcdctl === null || openssl_missing !== null)("npm start -- --tls: etcdctl over TLS as printed; a renewed certificate reaches the gRPC port", async () => {
  const [httpBase, raftBase, grpcBase] = [freeBase(), freeBase(), freeBase()];
  const data = join(scratch, "data");
  const proc = Bun.spawn(
    [process.execPath, join(repo, "scripts", "cluster.ts"), "--tls", "--from-source", "--data", data, "--http-port-base", String(httpBase), "--raft-port-base", String(raftBase), "--grpc-port-base", String(grpcBase)],
    { cwd: repo, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1", NODE_ENV: "production" } },
  );
  let output = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of proc.stdout) output += decoder.decode(chunk);
  })();
  try {
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new CheckError(`cluster.ts exited with code ${proc.exitCode}:\n${output}`);
        return output.includes("qklzl cluster is up with TLS");
      },
      { deadlineMs: 90_000, what: "qklzl cluster is up with TLS", intervalMs: 200 },
    );
    expect(output).toContain(`etcd gRPC 127.0.0.1:${grpcBase + 2} (TLS)`);
    const examples = output.split("\n").filter((line) => line.trimStart().startsWith("etcdctl "));
    expect(examples.length).toBe(2);
    const [status, put] = examples.map((line) => line.trim().split(/\s+/).slice(1)) as [string[], string[]];
    expect(put).toContain(`--endpoints=https://127.0.0.1:${grpcBase + 2}`);
    const statusRun = await run([etcdctl!, "--dial-timeout=5s", ...status]);
    expect({ code: statusRun.code, err: statusRun.err }).toEqual({ code: 0, err: "" });
    expect(statusRun.out.split("\n").length).toBe(3);
    expect(await run([etcdctl!, "--dial-timeout=5s", ...put])).toMatchObject({ code: 0, out: "OK" });
    const creds = ["--cacert", "--cert", "--key"].flatMap((flag) => [flag, put[put.indexOf(flag) + 1]!]);
    expect(creds).toEqual(["--cacert", join(data, "tls", "ca.crt"), "--cert", join(data, "tls", "client.crt"), "--key", join(data, "tls", "client.key")]);
    expect(await run([etcdctl!, `--endpoints=127.0.0.1:${grpcBase + 3}`, ...creds, "get", "greeting", "--print-value-only"])).toMatchObject({ code: 0, out: "hello" });
    // Plaintext etcdctl (no --cacert) to the TLS port is refused.
    expect((await run([etcdctl!, `--endpoints=127.0.0.1:${grpcBase + 1}`, "--dial-timeout=2s", "--command-timeout=3s", "get", "greeting"])).code).not.toBe(0);

    // Renew node 1's certificate in place: the node's file watch reloads it (no signal, no restart).
    const dir = join(data, "tls");
    const pki: Pki = { dir, ca: { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") } };
    const grpc1 = `127.0.0.1:${grpcBase + 1}`;
    const probe = { ca: readFileSync(join(dir, "ca.crt"), "utf8"), cert: readFileSync(join(dir, "client.crt"), "utf8"), key: readFileSync(join(dir, "client.key"), "utf8") };
    expect(await servedSerial(grpc1, probe)).toBe(new X509Certificate(readFileSync(join(dir, "node1.crt"))).serialNumber);
    const renewed = issue(pki, "renewed", { dir: join(scratch, "renewed") });
    copyFileSync(renewed.key, join(dir, "node1.key"));
    copyFileSync(renewed.cert, join(dir, "node1.crt"));
    const expected = new X509Certificate(readFileSync(renewed.cert)).serialNumber;
    await waitFor(async () => (await servedSerial(grpc1, probe).catch(() => "")) === expected || null, { deadlineMs: 20_000, what: "the gRPC port to serve the renewed certificate" });
    expect(await run([etcdctl!, `--endpoints=${grpc1}`, ...creds, "get", "greeting", "--print-value-only"])).toMatchObject({ code: 0, out: "hello" });
    proc.kill("SIGINT");
    expect(await Promise.race([proc.exited, Bun.sleep(30_000).then(() => -1)])).toBe(0);
  } finally {
    proc.kill("SIGKILL");
  }
}, 180_000);
