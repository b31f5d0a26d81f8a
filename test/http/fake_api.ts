import type { KeyValue, KvRequest, RangeRequest, RangeResponse } from "../../src/kv/mvcc_types.ts";
import { KvStateMachine } from "../../src/kv/state_machine.ts";
import { encodeRawPut } from "../../src/kv/command.ts";
import type { KvCommand } from "../../src/kv/types.ts";
import type { AppliedRequest, Consistency, HttpServer, HttpServerOptions, JoinRequest, JoinResponse, NodeApi, StatusJson } from "../../src/node/api.ts";
import { startHttpServer } from "../../src/node/http/server.ts";
import type { LeaseTtlJson } from "../../src/node/lease_keeper.ts";
import { QklzlError } from "../../src/shared/errors.ts";
import { limits } from "../../src/shared/limits.ts";

/** Role decides how the fake answers leader-only calls: a follower throws not_leader with the hint the runtime gives. */
export type FakeRole =
  | { kind: "leader" }
  | { kind: "follower"; leaderId: number; leaderHttpAddr: string }
  | { kind: "no_leader" };

export interface Call {
  method:
    | "status"
    | "write"
    | "putUtf8"
    | "read"
    | "readKv"
    | "range"
    | "kvRequest"
    | "putBytes"
    | "join"
    | "leave"
    | "transferLeader"
    | "snapshot"
    | "metricsText"
    | "isReady"
    | "leaseGrant"
    | "leaseRevoke"
    | "leaseKeepAlive"
    | "leaseTimeToLive"
    | "leaseList";
  args: unknown[];
}

const mutating = new Set<Call["method"]>(["write", "putUtf8", "kvRequest", "putBytes", "join", "leave", "transferLeader", "snapshot", "leaseGrant", "leaseRevoke"]);

/**
 * FakeNodeApi is an in-memory NodeApi that records every call. A leader applies writes to a Map; a follower throws
 * not_leader exactly as the runtime does, so the HTTP layer's redirects and forwarding can be checked end to end.
 */
export class FakeNodeApi implements NodeApi {
  readonly calls: Call[] = [];
  readonly data = new Map<string, string>();
  readonly meta = new Map<string, { create: number; mod: number; version: number }>();
  /** leases: id -> granted TTL (the fake never expires them). */
  readonly leases = new Map<number, number>();
  /** store serves range and kvRequest (the MVCC routes) with the real state machine, one entry per request. */
  readonly store = new KvStateMachine();
  role: FakeRole = { kind: "leader" };
  index = 0;
  ready = true;
  /** backup: GET /snapshot's source; absent unless a test sets it. */
  backup?: () => Promise<import("../../src/node/backup/source.ts").BackupStream>;
  /** delayMs: how long leader-only calls take (to test timeouts). */
  delayMs = 0;
  /** nextError: thrown by the next call of any method, then cleared. */
  nextError: unknown = null;

  constructor(readonly id: number) {}

  /** mutations: the calls that would have changed data or membership. */
  mutations(): Call[] {
    return this.calls.filter((call) => mutating.has(call.method));
  }

  #enter(method: Call["method"], args: unknown[]): void {
    this.calls.push({ method, args });
    const error = this.nextError;
    if (error !== null) {
      this.nextError = null;
      throw error;
    }
  }

  async #leaderOnly(): Promise<void> {
    if (this.delayMs > 0) await Bun.sleep(this.delayMs);
    const role = this.role;
    if (role.kind === "no_leader") throw new QklzlError("no_leader", `node ${this.id} knows no leader`);
    if (role.kind === "follower") {
      throw new QklzlError(
        "not_leader",
        `node ${this.id} is not the leader; the leader is node ${role.leaderId} at ${role.leaderHttpAddr}`,
        { leader_id: role.leaderId, leader_http_addr: role.leaderHttpAddr },
      );
    }
  }

  status(): StatusJson {
    this.#enter("status", []);
    const role = this.role;
    const leaderId = role.kind === "leader" ? this.id : role.kind === "follower" ? role.leaderId : 0;
    return {
      id: this.id,
      state: role.kind === "leader" ? "leader" : "follower",
      is_leader: role.kind === "leader",
      leader_id: leaderId,
      leader_http_addr: role.kind === "follower" ? role.leaderHttpAddr : "",
      term: 3,
      commit_index: this.index,
      applied_index: this.ready ? this.index : Math.max(0, this.index - 1),
      last_log_index: this.index,
      snapshot_index: 0,
      raft_addr: "127.0.0.1:1",
      http_addr: "127.0.0.1:2",
      members: [{ id: this.id, raft_addr: "127.0.0.1:1", http_addr: "127.0.0.1:2", role: "voter", match_index: this.index }],
      cluster_id: "test-cluster",
      kv_hash: "0",
      kv_hash_index: this.index,
      kv_keys: this.data.size,
      snapshots_installed: 0,
    };
  }

  /** putUtf8: write() of the put with the value decoded (the node's own checks are node_api's). */
  async putUtf8(key: string, value: Uint8Array, spare = 0): Promise<{ index: number }> {
    this.#enter("putUtf8", [key, value, spare]);
    return this.#write({ op: "put", key, value: new TextDecoder().decode(value) });
  }

  async write(command: KvCommand): Promise<{ index: number }> {
    this.#enter("write", [command]);
    return this.#write(command);
  }

  async #write(command: KvCommand): Promise<{ index: number }> {
    await this.#leaderOnly();
    this.index += 1;
    if (command.op === "put") {
      const meta = this.meta.get(command.key);
      this.meta.set(command.key, { create: meta?.create ?? this.index, mod: this.index, version: (meta?.version ?? 0) + 1 });
      this.data.set(command.key, command.value);
    } else {
      this.data.delete(command.key);
      this.meta.delete(command.key);
    }
    return { index: this.index };
  }

  async leaseGrant(ttl: number, id: number | undefined): Promise<{ id: number; ttl: number }> {
    this.#enter("leaseGrant", [ttl, id]);
    await this.#leaderOnly();
    const chosen = id ?? this.leases.size + 1;
    this.leases.set(chosen, ttl);
    return { id: chosen, ttl };
  }

  async leaseRevoke(id: number): Promise<{ revision: number; deleted: number }> {
    this.#enter("leaseRevoke", [id]);
    await this.#leaderOnly();
    if (!this.leases.delete(id)) throw new QklzlError("lease_not_found", `lease ${id} not found`, { id });
    return { revision: ++this.index, deleted: 0 };
  }

  async leaseKeepAlive(id: number): Promise<{ id: number; ttl: number }> {
    this.#enter("leaseKeepAlive", [id]);
    await this.#leaderOnly();
    const ttl = this.leases.get(id);
    if (ttl === undefined) throw new QklzlError("lease_not_found", `lease ${id} not found`, { id });
    return { id, ttl };
  }

  async leaseTimeToLive(id: number, keys: boolean): Promise<LeaseTtlJson> {
    this.#enter("leaseTimeToLive", [id, keys]);
    await this.#leaderOnly();
    const ttl = this.leases.get(id);
    if (ttl === undefined) throw new QklzlError("lease_not_found", `lease ${id} not found`, { id });
    return { id, ttl, remaining_ms: ttl * 1000, granted_ttl: ttl, ...(keys ? { keys: [] } : {}) };
  }

  async leaseList(): Promise<{ id: number; ttl: number }[]> {
    this.#enter("leaseList", []);
    await this.#leaderOnly();
    return [...this.leases].map(([id, ttl]) => ({ id, ttl }));
  }

  async read(key: string, consistency: Consistency): Promise<{ value: string } | null> {
    this.#enter("read", [key, consistency]);
    const value = this.data.get(key);
    return value === undefined ? null : { value };
  }

  /** readKv: revisions as a store would give them if every write were one revision (the index). */
  async readKv(key: string, consistency: Consistency): Promise<{ kv: KeyValue; revision: number } | null> {
    this.#enter("readKv", [key, consistency]);
    const value = this.data.get(key);
    const meta = this.meta.get(key);
    if (value === undefined || meta === undefined) return null;
    return { kv: { key, value, create_revision: meta.create, mod_revision: meta.mod, version: meta.version, lease: 0 }, revision: this.index };
  }

  async range(request: RangeRequest, consistency: Consistency): Promise<RangeResponse> {
    this.#enter("range", [request, consistency]);
    return this.store.range(request);
  }

  async kvRequest(request: KvRequest, requestId?: string): Promise<AppliedRequest> {
    this.#enter("kvRequest", [request, requestId]);
    await this.#leaderOnly();
    const index = this.store.appliedIndex + 1;
    const response = this.store.applyRequest(index, request, requestId ?? null);
    if (response.kind === "error") throw new QklzlError(response.error.error as never, response.error.message, response.error.details ?? {});
    return { index, response };
  }

  /** putBytes applies the raw entry (kv/command.ts tag 18) to the real state machine; the node's checks are node_api's. */
  async putBytes(key: string, value: Uint8Array, requestId?: string): Promise<AppliedRequest> {
    this.#enter("putBytes", [key, value, requestId]);
    await this.#leaderOnly();
    const index = this.store.appliedIndex + 1;
    const response = this.store.applyEntry(index, encodeRawPut(key, value, requestId));
    if (response.kind === "error") throw new QklzlError(response.error.error as never, response.error.message, response.error.details ?? {});
    return { index, response };
  }

  async join(request: JoinRequest): Promise<JoinResponse> {
    this.#enter("join", [request]);
    await this.#leaderOnly();
    return {
      clusterId: "test-cluster",
      members: [
        { id: this.id, raft_addr: "127.0.0.1:1", http_addr: "127.0.0.1:2", role: "voter", match_index: this.index },
        { id: request.id, raft_addr: request.raftAddr, http_addr: request.httpAddr, role: "learner", match_index: 0 },
      ],
    };
  }

  async leave(id: number): Promise<void> {
    this.#enter("leave", [id]);
    await this.#leaderOnly();
  }

  async transferLeader(id: number): Promise<void> {
    this.#enter("transferLeader", [id]);
    await this.#leaderOnly();
  }

  async snapshot(): Promise<{ index: number }> {
    this.#enter("snapshot", []);
    return { index: this.index };
  }

  metricsText(): string {
    this.#enter("metricsText", []);
    return `# TYPE qklzl_term gauge\nqklzl_term 3\nqklzl_applied_index ${this.index}\n`;
  }

  isReady(): boolean {
    this.#enter("isReady", []);
    return this.ready;
  }
}

export const test_options: Omit<HttpServerOptions, "listen"> = {
  maxKeyBytes: limits.key_bytes_max,
  maxValueBytes: limits.value_bytes_max,
  maxBodyBytes: limits.request_body_bytes_max,
  requestTimeoutMs: 2000,
};

/** TestNode is one HTTP server on an ephemeral loopback port over its own fake api. */
export interface TestNode {
  api: FakeNodeApi;
  server: HttpServer;
  base: string;
}

export function startTestNode(id: number, options: Partial<HttpServerOptions> = {}): TestNode {
  const api = new FakeNodeApi(id);
  const server = startHttpServer(api, { ...test_options, listen: "127.0.0.1:0", ...options });
  return { api, server, base: `http://${server.addr}` };
}

/** postJson sends a JSON (or raw string) body; redirects are never followed so 307s stay visible. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
    redirect: "manual",
  });
}
