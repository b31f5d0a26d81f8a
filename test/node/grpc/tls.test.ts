import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { credentials } from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { type GrpcServer, startGrpcServer } from "../../../src/node/grpc/server.ts";
import type { HttpTls } from "../../../src/node/tls/types.ts";
import { openssl_missing, servedSerial, type TlsFixture, tlsFixture } from "../../support/tls_fixture.ts";
import { FakeBackend } from "./fake_backend.ts";
import { connectEtcd, grpcError } from "./grpc_client.ts";

// The etcd gRPC endpoint over TLS (issue 15), on an in-memory backend: the HTTP API's certificate flags, mutual
// TLS with --client-cert-auth (a stranger's CA and a missing client certificate are refused), a reload that
// serves the new certificate to new connections while open ones go on, and the real etcdctl with
// --cacert/--cert/--key (skipped, saying so, without etcdctl). Certificates are made with openssl.

const etcdctl = Bun.which("etcdctl");
if (etcdctl === null) console.log("SKIP the etcdctl cases of test/node/grpc/tls.test.ts: etcdctl not found on PATH (apt-get install -y etcd-client)");

const fx: TlsFixture | null = openssl_missing === null ? tlsFixture() : null;
const text = (path: string) => readFileSync(path, "utf8");
const b = (s: string) => Buffer.from(s);
const unavailable = 14;

describe.skipIf(fx === null)("gRPC over TLS", () => {
  let server: GrpcServer;
  let plainServer: GrpcServer;
  let serverTls: HttpTls;
  const pairs = () => {
    const node = fx!.issue("node1");
    const client = fx!.issue("client");
    const stranger = fx!.issue("stranger", { by: "other" });
    return { node, client, stranger };
  };
  let certs: ReturnType<typeof pairs>;
  const ssl = (pair: { cert: string; key: string } | null, ca = fx!.ca.ca.cert) =>
    credentials.createSsl(Buffer.from(text(ca)), pair === null ? null : Buffer.from(text(pair.key)), pair === null ? null : Buffer.from(text(pair.cert)));

  beforeAll(async () => {
    certs = pairs();
    serverTls = { cert: text(certs.node.cert), key: text(certs.node.key), ca: text(fx!.ca.ca.cert), requestCert: true, rejectUnauthorized: true };
    server = await startGrpcServer(new FakeBackend(), { listen: "127.0.0.1:0", maxMessageBytes: 1 << 20, stopTimeoutMs: 1_000, tls: serverTls });
    plainServer = await startGrpcServer(new FakeBackend(), { listen: "127.0.0.1:0", maxMessageBytes: 1 << 20, stopTimeoutMs: 1_000 });
  });

  afterAll(async () => {
    await server?.stop();
    await plainServer?.stop();
    fx?.cleanup();
  });

  test("a client with the CA and a client certificate puts and gets", async () => {
    expect(server.secure).toBe(true);
    expect(plainServer.secure).toBe(false);
    const etcd = connectEtcd(server.addr, ssl(certs.client), "localhost");
    try {
      await etcd.call("KV", "Put", { key: b("k"), value: b("over tls") });
      const got = await etcd.call("KV", "Range", { key: b("k") });
      expect(got.kvs.map((kv: { value: Buffer }) => kv.value.toString())).toEqual(["over tls"]);
    } finally {
      etcd.close();
    }
  });

  test("refused: no client certificate, a client certificate from another CA, a client trusting another CA, plaintext", async () => {
    const cases = {
      noClientCert: ssl(null),
      strangerCert: ssl(certs.stranger),
      wrongCa: ssl(certs.client, fx!.other.ca.cert),
      plaintext: credentials.createInsecure(),
    };
    const codes: Record<string, number> = {};
    for (const [name, channel] of Object.entries(cases)) {
      const etcd = connectEtcd(server.addr, channel, "localhost");
      try {
        codes[name] = (await grpcError(etcd.call("KV", "Put", { key: b("x"), value: b("no") }, { deadlineMs: 3_000 }))).code;
      } finally {
        etcd.close();
      }
    }
    // The handshake fails, so the call never reaches the server (no write): UNAVAILABLE, or DEADLINE_EXCEEDED
    // while the channel is still retrying the connection.
    for (const code of Object.values(codes)) expect([unavailable, 4]).toContain(code);
    const etcd = connectEtcd(server.addr, ssl(certs.client), "localhost");
    try {
      expect((await etcd.call("KV", "Range", { key: b("x") })).kvs).toEqual([]);
    } finally {
      etcd.close();
    }
  });

  test("TLS without --client-cert-auth: a client with only the CA is served; the server asks for no certificate", async () => {
    const serverOnly = await startGrpcServer(new FakeBackend(), { listen: "127.0.0.1:0", maxMessageBytes: 1 << 20, stopTimeoutMs: 1_000, tls: { ...serverTls, requestCert: false, rejectUnauthorized: false } });
    const etcd = connectEtcd(serverOnly.addr, ssl(null), "localhost");
    try {
      await etcd.call("KV", "Put", { key: b("k"), value: b("server-side TLS") });
      expect((await etcd.call("KV", "Range", { key: b("k") })).kvs.length).toBe(1);
      expect(await servedSerial(serverOnly.addr, { ca: text(fx!.ca.ca.cert) })).toBe(new X509Certificate(serverTls.cert).serialNumber);
    } finally {
      etcd.close();
      await serverOnly.stop();
    }
  });

  test("reloadTls: new connections get the new certificate, an open connection goes on, the listener stays", async () => {
    const probe = { ca: text(fx!.ca.ca.cert), cert: text(certs.client.cert), key: text(certs.client.key) };
    expect(await servedSerial(server.addr, probe)).toBe(new X509Certificate(serverTls.cert).serialNumber);
    const open = connectEtcd(server.addr, ssl(certs.client), "localhost");
    try {
      await open.call("KV", "Put", { key: b("before"), value: b("1") });
      const renewed = fx!.issue("renewed");
      server.reloadTls({ ...serverTls, cert: text(renewed.cert), key: text(renewed.key) });
      expect(await servedSerial(server.addr, probe)).toBe(new X509Certificate(text(renewed.cert)).serialNumber);
      await open.call("KV", "Put", { key: b("after"), value: b("2") });
      const fresh = connectEtcd(server.addr, ssl(certs.client), "localhost");
      try {
        expect((await fresh.call("KV", "Range", { key: b("after") })).kvs.length).toBe(1);
      } finally {
        fresh.close();
      }
    } finally {
      open.close();
    }
    expect(() => plainServer.reloadTls(serverTls)).toThrow();
  });

  test("the etcd3 client with TLS credentials (https:// host) puts and gets; without its certificate it is refused", async () => {
    const etcd3 = (cert: boolean) =>
      new Etcd3({
        hosts: `https://${server.addr}`,
        dialTimeout: 3_000,
        credentials: { rootCertificate: Buffer.from(text(fx!.ca.ca.cert)), ...(cert ? { privateKey: Buffer.from(text(certs.client.key)), certChain: Buffer.from(text(certs.client.cert)) } : {}) },
        // The certificate names 127.0.0.1 and localhost; grpc-js on Bun refuses an IP as the TLS servername.
        grpcOptions: { "grpc.ssl_target_name_override": "localhost" },
      });
    const good = etcd3(true);
    try {
      await good.put("etcd3/tls").value("yes");
      expect(await good.get("etcd3/tls").string()).toBe("yes");
    } finally {
      good.close();
    }
    const bad = etcd3(false);
    try {
      expect(await bad.get("etcd3/tls").string().then(() => "answered", (error: Error) => error.constructor.name)).not.toBe("answered");
    } finally {
      bad.close();
    }
  }, 30_000);

  async function ctl(endpoint: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const argv = [etcdctl!, `--endpoints=${endpoint}`, "--dial-timeout=3s", "--command-timeout=5s", ...args];
    const proc = Bun.spawn(argv, { env: { ...process.env, ETCDCTL_API: "3" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, out: out.trim(), err: err.trim() };
  }

  test.skipIf(etcdctl === null)("etcdctl --cacert --cert --key: with and without https://; refused without the client certificate or with another CA", async () => {
    const creds = ["--cacert", fx!.ca.ca.cert, "--cert", certs.client.cert, "--key", certs.client.key];
    expect(await ctl(server.addr, ...creds, "put", "ctl", "plain endpoint")).toMatchObject({ code: 0, out: "OK" });
    expect(await ctl(`https://${server.addr}`, ...creds, "get", "ctl", "--print-value-only")).toMatchObject({ code: 0, out: "plain endpoint" });
    const noCert = await ctl(server.addr, "--cacert", fx!.ca.ca.cert, "put", "ctl", "refused");
    expect(noCert.code).not.toBe(0);
    const otherCa = await ctl(server.addr, "--cacert", fx!.other.ca.cert, "--cert", certs.client.cert, "--key", certs.client.key, "put", "ctl", "refused");
    expect(otherCa.code).not.toBe(0);
    expect(otherCa.err).toMatch(/certificate|x509|deadline/i);
    expect(await ctl(server.addr, ...creds, "get", "ctl", "--print-value-only")).toMatchObject({ code: 0, out: "plain endpoint" });
  }, 60_000);
});
