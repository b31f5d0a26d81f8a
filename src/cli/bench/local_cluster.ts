import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** selfCommand is how to run this same program again: the compiled binary, or bun + the entry script. */
export function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  const compiled = Bun.main.startsWith("/$bunfs") || script.startsWith("/$bunfs");
  return compiled ? [process.execPath] : [process.execPath, script];
}

/** freePort asks the kernel for an unused loopback port. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

export interface LocalNode {
  id: number;
  httpAddr: string;
  raftAddr: string;
  process: Subprocess;
}

/** LocalCluster is a throw-away cluster of this binary on loopback, for `qklzl bench`. */
export class LocalCluster {
  readonly nodes = new Map<number, LocalNode>();
  private readonly dir = mkdtempSync(join(tmpdir(), "qklzl-bench-"));

  private readonly command: string[];
  private readonly extraArgs: string[];

  /** command defaults to this program itself; extraArgs are appended to every node's start line. */
  constructor(options: { command?: string[]; extraArgs?: string[] } = {}) {
    this.command = options.command ?? selfCommand();
    this.extraArgs = options.extraArgs ?? [];
  }

  start(id: number, joinAddr: string | null, addrs?: { httpAddr: string; raftAddr: string }): LocalNode {
    const httpAddr = addrs?.httpAddr ?? `127.0.0.1:${freePort()}`;
    const raftAddr = addrs?.raftAddr ?? `127.0.0.1:${freePort()}`;
    const args = ["start", "--id", String(id), "--data-dir", join(this.dir, `n${id}`), "--raft-addr", raftAddr, "--http-addr", httpAddr];
    args.push(...(joinAddr ? ["--join", joinAddr] : ["--bootstrap"]), ...this.extraArgs);
    const child = Bun.spawn([...this.command, ...args], { stdout: "ignore", stderr: "ignore", env: { ...process.env, CONSOLA_LEVEL: "1" } });
    const node = { id, httpAddr, raftAddr, process: child };
    this.nodes.set(id, node);
    return node;
  }

  /** startCluster starts node 1 with bootstrap and the others joining it, and waits for all voters. */
  async startCluster(size: number, deadlineMs = 30_000): Promise<void> {
    const first = this.start(1, null);
    await waitFor(async () => (await status(first.httpAddr))?.is_leader === true, deadlineMs, "node 1 to lead");
    for (let id = 2; id <= size; id++) {
      this.start(id, first.httpAddr);
      await waitFor(async () => voters(await status(first.httpAddr)) === id, deadlineMs, `node ${id} to become a voter`);
    }
  }

  async leader(deadlineMs = 15_000): Promise<LocalNode> {
    let found: LocalNode | undefined;
    await waitFor(
      async () => {
        for (const node of this.nodes.values()) {
          if (node.process.exitCode !== null || node.process.killed) continue;
          if ((await status(node.httpAddr))?.is_leader) found = node;
        }
        return found !== undefined;
      },
      deadlineMs,
      "a leader",
    );
    return found!;
  }

  /** rssBytes reads a node's resident memory from /proc (Linux). */
  rssBytes(id: number): number {
    const pid = this.nodes.get(id)?.process.pid;
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes.values()) node.process.kill("SIGKILL");
    await Promise.all([...this.nodes.values()].map((node) => node.process.exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface StatusLike {
  is_leader?: boolean;
  leader_http_addr?: string;
  members?: { role: string; http_addr: string }[];
}

export async function status(addr: string): Promise<StatusLike | null> {
  try {
    const response = await fetch(`http://${addr}/status`, { signal: AbortSignal.timeout(1000) });
    return response.ok ? ((await response.json()) as StatusLike) : null;
  } catch {
    return null;
  }
}

function voters(body: StatusLike | null): number {
  return body?.members?.filter((member) => member.role === "voter").length ?? 0;
}

/** waitFor polls a condition until it holds or the deadline passes. */
export async function waitFor(condition: () => Promise<boolean>, deadlineMs: number, what: string): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (performance.now() < end) {
    if (await condition()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
}
