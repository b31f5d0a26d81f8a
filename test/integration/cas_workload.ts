import type { Cluster } from "../../scenarios/harness.ts";
import type { OpStatus, RegisterOp } from "./cas_checker.ts";

// A Jepsen-style compare-and-set register workload against a cluster of the binary: concurrent clients read
// (linearizable, on any running node), write, and compare-and-set (POST /kv with "if", or POST /txn) a few keys, recording
// every operation with its real-time interval and outcome for cas_checker.ts. Written values are unique.
//
// `staleCompare` plants a bug for the checker to catch: the cas is served from a stale local read (the
// compare made by the client on ?consistency=stale, then an unconditional put), which loses updates.

export interface WorkloadOptions {
  /** keyPrefix: the registers are keyPrefix0.. keyPrefix{keys-1}; they must not exist yet (the checker starts from absent). */
  keyPrefix: string;
  keys: number;
  clients: number;
  requestTimeoutMs: number;
  /** maxOps: clients stop once this many operations are recorded. */
  maxOps: number;
  staleCompare?: boolean;
}

export interface Workload {
  ops: RegisterOp[];
  /** anomalies: answers no correct node gives (a 400 on a valid request, a 500), with their bodies. */
  anomalies: string[];
  stop(): Promise<void>;
}

interface Reply {
  status: number;
  body: Record<string, unknown> | null;
  /** error: the fetch failed (code, e.g. ECONNREFUSED, or TimeoutError). */
  error: string | null;
}

async function call(addr: string, path: string, body: unknown, timeoutMs: number): Promise<Reply> {
  try {
    const response = await fetch(`http://${addr}${path}`, {
      method: body === undefined ? "GET" : "POST",
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let parsed: Record<string, unknown> | null = null;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = null;
    }
    return { status: response.status, body: parsed, error: null };
  } catch (error) {
    const code = (error as { code?: unknown; name?: unknown }).code ?? (error as { name?: unknown }).name;
    return { status: 0, body: null, error: String(code ?? error) };
  }
}

const refused_codes = new Set(["ECONNREFUSED", "ConnectionRefused", "FailedToOpenSocket"]);

/**
 * writeStatus: ok on 200; fail when the write surely did not apply (412, a 307 or 503 refusal, a refused
 * connection); info otherwise (a timeout, a broken connection, shutting_down: the outcome is unknown).
 */
function writeStatus(reply: Reply): OpStatus {
  if (reply.status === 200) return "ok";
  if (reply.status === 412 || reply.status === 307) return "fail";
  if (reply.status === 503 && (reply.body?.error === "no_leader" || reply.body?.error === "no_quorum")) return "fail";
  if (reply.status === 0 && reply.error !== null && refused_codes.has(reply.error)) return "fail";
  return "info";
}

export function runCasWorkload(cluster: Cluster, options: WorkloadOptions): Workload {
  const ops: RegisterOp[] = [];
  const anomalies: string[] = [];
  const keys = Array.from({ length: options.keys }, (_, i) => `${options.keyPrefix}${i}`);
  let stopped = false;
  let leader = cluster.node(cluster.running()[0]!).httpAddr;
  let counter = 0;
  /** lastSeen: per key, the latest value a client learned (the expected value of its next cas). */
  const lastSeen = new Map<string, string | null>();

  const liveAddrs = () => cluster.running().filter((id) => !cluster.node(id).paused).map((id) => cluster.node(id).httpAddr);
  const anyAddr = () => {
    const addrs = liveAddrs();
    return addrs[Math.floor(Math.random() * addrs.length)] ?? leader;
  };
  const noteReply = (reply: Reply) => {
    const hint = reply.body?.leader_http_addr;
    if (reply.status === 307 && typeof hint === "string" && hint.length > 0) leader = hint;
    else if (reply.status !== 200 && reply.status !== 412) leader = anyAddr();
    if (reply.status === 400 || reply.status >= 500 && reply.status !== 503 && reply.status !== 504) {
      anomalies.push(`HTTP ${reply.status}: ${JSON.stringify(reply.body)}`);
    }
  };

  const read = async (process: number, key: string, consistency: "" | "&consistency=stale"): Promise<RegisterOp | null> => {
    const invoke = performance.now();
    const reply = await call(anyAddr(), `/kv?key=${key}${consistency}`, undefined, options.requestTimeoutMs);
    const complete = performance.now();
    if (reply.status === 200) return { process, key, kind: "read", value: String(reply.body?.value), invoke, complete, status: "ok" };
    if (reply.status === 404 && reply.body?.error === "key_not_found") return { process, key, kind: "read", value: null, invoke, complete, status: "ok" };
    noteReply(reply);
    return null; // a failed read changed nothing
  };

  const cas = async (process: number, key: string, value: string): Promise<RegisterOp> => {
    const expected = lastSeen.has(key) ? lastSeen.get(key)! : null;
    const invoke = performance.now();
    const condition = expected === null ? { version: 0 } : { value: expected };
    const reply = await call(leader, "/kv", { op: "put", key, value, if: condition }, options.requestTimeoutMs);
    const complete = performance.now();
    noteReply(reply);
    if (reply.status === 412) {
      const kv = reply.body?.kv as { value?: string } | null | undefined;
      lastSeen.set(key, kv?.value ?? null);
    }
    const status = writeStatus(reply);
    if (status === "ok") lastSeen.set(key, value);
    return { process, key, kind: "cas", value, expected, invoke, complete, status };
  };

  /** txnCas: the same compare-and-set as one POST /txn (compare on value, or version 0 for absent). */
  const txnCas = async (process: number, key: string, value: string): Promise<RegisterOp> => {
    const expected = lastSeen.has(key) ? lastSeen.get(key)! : null;
    const compare = expected === null ? { key, target: "version", result: "=", value: 0 } : { key, target: "value", result: "=", value: expected };
    const invoke = performance.now();
    const body = { compare: [compare], success: [{ put: { key, value } }], failure: [{ range: { key } }] };
    const reply = await call(leader, "/txn", body, options.requestTimeoutMs);
    const complete = performance.now();
    noteReply(reply);
    let status = writeStatus(reply);
    if (status === "ok" && reply.body?.succeeded !== true) {
      status = "fail";
      const responses = reply.body?.responses as Array<{ range?: { kvs: Array<{ value: string }> } }> | undefined;
      lastSeen.set(key, responses?.[0]?.range?.kvs[0]?.value ?? null);
    }
    if (status === "ok") lastSeen.set(key, value);
    return { process, key, kind: "cas", value, expected, invoke, complete, status };
  };

  /** staleCas: the planted bug, a compare made on a stale local read, then an unconditional put. */
  const staleCas = async (process: number, key: string, value: string): Promise<RegisterOp> => {
    const expected = lastSeen.has(key) ? lastSeen.get(key)! : null;
    const invoke = performance.now();
    const seen = await call(anyAddr(), `/kv?key=${key}&consistency=stale`, undefined, options.requestTimeoutMs);
    const current = seen.status === 200 ? String(seen.body?.value) : null;
    if ((seen.status !== 200 && seen.status !== 404) || current !== expected) {
      lastSeen.set(key, current);
      return { process, key, kind: "cas", value, expected, invoke, complete: performance.now(), status: "fail" };
    }
    const reply = await call(leader, "/kv", { op: "put", key, value }, options.requestTimeoutMs);
    const complete = performance.now();
    noteReply(reply);
    const status = writeStatus(reply);
    if (status === "ok") lastSeen.set(key, value);
    return { process, key, kind: "cas", value, expected, invoke, complete, status };
  };

  const write = async (process: number, key: string, value: string): Promise<RegisterOp> => {
    const invoke = performance.now();
    const reply = await call(leader, "/kv", { op: "put", key, value }, options.requestTimeoutMs);
    const complete = performance.now();
    noteReply(reply);
    return { process, key, kind: "write", value, invoke, complete, status: writeStatus(reply) };
  };

  const client = async (process: number) => {
    while (!stopped && ops.length < options.maxOps) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      const value = `p${process}-${counter++}`;
      const dice = Math.random();
      let op: RegisterOp | null;
      if (dice < 0.35) {
        op = await read(process, key, "");
        if (op !== null) lastSeen.set(key, op.value);
      } else if (dice < 0.5) op = await write(process, key, value);
      else if (options.staleCompare) op = await staleCas(process, key, value);
      else op = dice < 0.75 ? await cas(process, key, value) : await txnCas(process, key, value);
      if (op !== null) ops.push(op);
      else await Bun.sleep(20);
    }
  };

  const running = Array.from({ length: options.clients }, (_, i) => client(i + 1));
  return {
    ops,
    anomalies,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
