// In-process clusters for node tests: real storage, TCP transport and HTTP on loopback port 0, temp dirs. Not a
// launcher: the nodes are startNode() calls inside the test process (no spawn, no signals); clusters of real
// processes come from src/cli/launcher/.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startNode } from "../../src/node/index.ts";
import type { NodeOptions, RunningNode } from "../../src/node/index.ts";
import type { StatusJson } from "../../src/node/api.ts";
import { waitFor as launcherWaitFor } from "../../src/cli/launcher/index.ts";

export const fast = { heartbeatMs: 40, electionMs: 400 };

export function nodeOptions(id: number, dataDir: string, overrides: Partial<NodeOptions> = {}): NodeOptions {
  return {
    id,
    dataDir,
    raftAddr: "127.0.0.1:0",
    httpAddr: "127.0.0.1:0",
    bootstrap: false,
    join: null,
    heartbeatMs: fast.heartbeatMs,
    electionMs: fast.electionMs,
    snapshotEntries: 10_000,
    trailingEntries: 1_000,
    requestTimeoutMs: 5_000,
    maxKeyBytes: 4096,
    maxValueBytes: 1024 * 1024,
    maxBodyBytes: 2 * 1024 * 1024,
    segmentBytes: 64 * 1024 * 1024,
    ...overrides,
  };
}

/**
 * waitFor polls `probe` every 20 ms until it returns a value that is not undefined/false, or fails after timeoutMs:
 * the one waitFor (src/cli/launcher/wait.ts) in the argument order these tests were written with.
 */
export function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  return launcherWaitFor(probe, { deadlineMs: timeoutMs, what, intervalMs: 20 }) as Promise<T>;
}

export class TestCluster {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "qklzl-node-"));
  readonly nodes = new Map<number, RunningNode>();
  readonly addrs = new Map<number, { raftAddr: string; httpAddr: string }>();

  dir(id: number): string {
    return path.join(this.root, `n${id}`);
  }

  async start(id: number, overrides: Partial<NodeOptions> = {}): Promise<RunningNode> {
    const node = await startNode(nodeOptions(id, this.dir(id), overrides));
    this.nodes.set(id, node);
    this.addrs.set(id, { raftAddr: node.raftAddr, httpAddr: node.httpAddr });
    return node;
  }

  /** restart starts a stopped node on its previous addresses (unless overridden). */
  async restart(id: number, overrides: Partial<NodeOptions> = {}): Promise<RunningNode> {
    const addrs = this.addrs.get(id);
    return this.start(id, { ...addrs, ...overrides });
  }

  node(id: number): RunningNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`node ${id} is not running`);
    return node;
  }

  async stop(id: number): Promise<void> {
    const node = this.nodes.get(id);
    this.nodes.delete(id);
    await node?.stop();
  }

  status(id: number): StatusJson {
    return this.node(id).api.status();
  }

  /** bootstrap: node 1 bootstraps, the others join through it; waits until all are voters. */
  async bootstrap(count: number, overrides: Partial<NodeOptions> = {}): Promise<void> {
    const first = await this.start(1, { ...overrides, bootstrap: true });
    await waitFor("node 1 leads", () => this.status(1).is_leader);
    for (let id = 2; id <= count; id++) {
      await this.start(id, { ...overrides, join: first.httpAddr });
      await waitFor(`node ${id} is a voter`, () => this.status(1).members.find((m) => m.id === id)?.role === "voter");
    }
  }

  leaderId(): number | undefined {
    const leaders = [...this.nodes.values()].map((n) => n.api.status()).filter((s) => s.is_leader);
    if (leaders.length !== 1) return undefined;
    return leaders[0]!.id;
  }

  async waitLeader(excluding?: number): Promise<number> {
    return waitFor("one leader", () => {
      const id = this.leaderId();
      return id !== undefined && id !== excluding ? id : undefined;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop().catch(() => undefined)));
    this.nodes.clear();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
