import type { Subprocess } from "bun";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { StatusJson } from "../../node/api.ts";
import { fetchStatus, type MemberHttp } from "../../node/cluster_client.ts";
import { check, CheckError } from "./check.ts";
import { type LeaderView, waitConverged, waitForLeader, waitForVoters, waitHttp } from "./conditions.ts";
import { closeLog, openLogForStart, type OutputMode, pipeLines } from "./output.ts";
import { diagnostics } from "./report.ts";
import { freePort } from "./ports.ts";
import { track } from "./procs.ts";
import { waitFor } from "./wait.ts";

// launcher.ts: the one launcher of multi-process qklzl clusters on loopback, behind `npm start`
// (scripts/cluster.ts), `qklzl bench`, the scenario harness and the tests. It owns each node's ports (fixed per
// id, so restarts reuse them), data dir, output, process (spawn, stop, kill -9, pause), /status polling and the
// waits built on it. Nodes start with the documented command line:
// `qklzl -id 1 -data-dir ./data1 -bootstrap -raft-addr 127.0.0.1:P -http-addr 127.0.0.1:Q`.

export interface LauncherOptions {
  /** size: how many node ids (1..size) get ports and data dirs. Default 3. */
  size?: number;
  /** root: the directory holding the data dirs, kept by destroy(). Default: a new temp dir, removed by destroy(). */
  root?: string;
  /** name: prefix of the temp dir (qklzl-NAME-…), for finding it after a failure. Default "cluster". */
  name?: string;
  /** dataDirName: node `id`'s data dir under root. Default `data${id}`. */
  dataDirName?: (id: number) => string;
  /** addrs: node `id`'s fixed addresses. Default: two free loopback ports (ports.ts). */
  addrs?: (id: number) => { raftAddr: string; httpAddr: string };
  /** command: the argv prefix that runs a node (or how to find it, resolved at each start). Default: this program. */
  command?: string[] | (() => Promise<string[]>);
  /** cwd: where the nodes run; data dirs under it are passed relative ("./data1"). Default: root. */
  cwd?: string;
  /** output: where the nodes' stdout/stderr go (output.ts). Default "log": root/node<id>.log. */
  output?: OutputMode;
  /** env: variables set for the nodes on top of ours. */
  env?: Record<string, string>;
  /** extraArgs: flags appended to every node's command line (e.g. fast timeouts). Default none. */
  extraArgs?: string[];
  /** nodeArgs: flags for node `id` only (e.g. its own TLS certificate), after extraArgs. Default none. */
  nodeArgs?: (id: number) => string[];
  /** http: how the launcher reaches the nodes' HTTP APIs (https with a CA and client certificate). Default plain http. */
  http?: MemberHttp;
  /** detached: nodes run in their own process group, so a Ctrl-C on our terminal reaches only us. */
  detached?: boolean;
  /** onExit is told when a node's process ends, whatever the reason (stop, kill, crash). */
  onExit?: (id: number, exitCode: number | null) => void;
}

export interface StartMode {
  bootstrap?: boolean;
  /** join: the node id (or "host:port" HTTP address) to pass to -join. */
  join?: number | string;
  extraArgs?: string[];
}

export interface NodeHandle {
  readonly id: number;
  readonly dataDir: string;
  /** raftAddr, httpAddr: fixed per id so restarts reuse them; moveAddr() changes one on purpose. */
  raftAddr: string;
  httpAddr: string;
  /** logPath: the node's log file (written when the output mode is "log"). */
  readonly logPath: string;
  proc: Subprocess | null;
  paused: boolean;
  starts: number;
  /** commandLine: the argv of the last start, as run. */
  commandLine: string[];
  /** lastStatus: the last /status this node answered, for failure reports. */
  lastStatus: StatusJson | null;
}

export interface StopOptions {
  deadlineMs?: number;
  /** signal: SIGTERM (the documented `kill <pid>`, default) or SIGINT (Ctrl-C). */
  signal?: "SIGTERM" | "SIGINT";
  /** expectExitCode: the exit code SIGTERM must give (issue 4: 0); null accepts any. */
  expectExitCode?: number | null;
}

const loopback = "127.0.0.1";

/** selfCommand is how to run this same program again: the compiled binary, or bun + the entry script. */
export function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  const compiled = Bun.main.startsWith("/$bunfs") || script.startsWith("/$bunfs");
  return compiled ? [process.execPath] : [process.execPath, script];
}

/** Launcher owns its processes and, unless given a root, its temp dir; destroy() kills the first and removes the second. */
export class Launcher {
  readonly root: string;
  readonly nodes = new Map<number, NodeHandle>();
  readonly extraArgs: string[];
  private readonly options: LauncherOptions;
  private readonly ownsRoot: boolean;
  private http: MemberHttp | undefined;
  private destroyed = false;
  /** failed: an explain() block failed; destroy() then keeps the files unless told otherwise. */
  private failed = false;

  constructor(options: LauncherOptions = {}) {
    const size = options.size ?? 3;
    check(Number.isInteger(size) && size >= 1, `cluster size ${size} must be a positive integer`);
    this.options = options;
    this.extraArgs = options.extraArgs ?? [];
    this.http = options.http;
    this.ownsRoot = options.root === undefined;
    this.root = options.root ?? mkdtempSync(path.join(tmpdir(), `qklzl-${options.name ?? "cluster"}-`));
    for (let id = 1; id <= size; id++) {
      const addrs = options.addrs?.(id) ?? { raftAddr: `${loopback}:${freePort()}`, httpAddr: `${loopback}:${freePort()}` };
      this.nodes.set(id, {
        id,
        dataDir: path.join(this.root, options.dataDirName?.(id) ?? `data${id}`),
        raftAddr: addrs.raftAddr,
        httpAddr: addrs.httpAddr,
        logPath: path.join(this.root, `node${id}.log`),
        proc: null,
        paused: false,
        starts: 0,
        commandLine: [],
        lastStatus: null,
      });
    }
  }

  /** isDestroyed: destroy() ran; background loops (writers) stop on it. */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  get ids(): number[] {
    return [...this.nodes.keys()];
  }

  node(id: number): NodeHandle {
    const node = this.nodes.get(id);
    check(node !== undefined, `no node ${id} in this cluster (ids ${this.ids.join(", ")})`);
    return node;
  }

  /** nodeByHttpAddr maps a leader_http_addr back to a node id, or null. */
  nodeByHttpAddr(addr: string): number | null {
    for (const node of this.nodes.values()) if (node.httpAddr === addr) return node.id;
    return null;
  }

  isRunning(id: number): boolean {
    const proc = this.node(id).proc;
    return proc !== null && proc.exitCode === null && proc.signalCode === null;
  }

  /** running lists the ids whose process is alive (paused ones included). */
  running(): number[] {
    return this.ids.filter((id) => this.isRunning(id));
  }

  // ---- Processes -----------------------------------------------------------------------------------------

  /** startArgs: the documented command line of node `id` (after the program), as start() runs it. */
  startArgs(id: number, mode: StartMode = {}): string[] {
    const node = this.node(id);
    const args = ["-id", String(id), "-data-dir", this.shownPath(node.dataDir)];
    if (mode.bootstrap === true) args.push("-bootstrap");
    if (mode.join !== undefined) args.push("-join", typeof mode.join === "number" ? this.node(mode.join).httpAddr : mode.join);
    args.push("-raft-addr", node.raftAddr, "-http-addr", node.httpAddr, ...this.extraArgs, ...(this.options.nodeArgs?.(id) ?? []), ...(mode.extraArgs ?? []));
    return args;
  }

  /** start launches node `id` with the documented command line (startArgs). */
  async start(id: number, mode: StartMode = {}): Promise<NodeHandle> {
    return this.spawn(id, this.startArgs(id, mode));
  }

  /**
   * spawn runs node `id` as `<command> ...args` (any command line: `start`, `join ADDR`, Go-style flags), with
   * its output where the options say, the process tracked so that every PID dies however the run ends.
   */
  async spawn(id: number, args: string[]): Promise<NodeHandle> {
    check(!this.destroyed, "cluster already destroyed");
    const node = this.node(id);
    check(!this.isRunning(id), `node ${id} is already running (pid ${node.proc?.pid})`);
    const command = typeof this.options.command === "function" ? await this.options.command() : (this.options.command ?? selfCommand());
    mkdirSync(node.dataDir, { recursive: true });
    const argv = [...command, ...args];
    const output = this.options.output ?? "log";
    const spawnOptions = { cwd: this.options.cwd ?? this.root, env: { ...process.env, ...this.options.env }, detached: this.options.detached ?? false };
    if (output === "log") {
      const fd = openLogForStart(node.logPath, node.starts + 1, argv);
      try {
        node.proc = Bun.spawn(argv, { ...spawnOptions, stdio: ["ignore", fd, fd] });
      } finally {
        closeLog(fd);
      }
    } else if (output === "ignore") {
      node.proc = Bun.spawn(argv, { ...spawnOptions, stdio: ["ignore", "ignore", "ignore"] });
    } else {
      const proc = Bun.spawn(argv, { ...spawnOptions, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      void pipeLines(proc.stdout, `[n${id}]`, output.stdout);
      void pipeLines(proc.stderr, `[n${id}]`, output.stderr);
      node.proc = proc;
    }
    const proc = node.proc;
    track(proc);
    if (this.options.onExit) {
      const onExit = this.options.onExit;
      void proc.exited.then((code) => onExit(id, code));
    }
    node.paused = false;
    node.starts += 1;
    node.commandLine = argv;
    return node;
  }

  /** stop sends SIGTERM (the documented `kill <pid>`) or SIGINT and waits for the exit; returns the exit code. */
  async stop(id: number, options: StopOptions = {}): Promise<number | null> {
    const node = this.node(id);
    const proc = node.proc;
    check(proc !== null && this.isRunning(id), `node ${id} is not running`);
    if (node.paused) this.resume(id);
    const signal = options.signal ?? "SIGTERM";
    proc.kill(signal);
    const deadlineMs = options.deadlineMs ?? 15_000;
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(deadlineMs).then(() => false)]);
    if (!exited) {
      proc.kill("SIGKILL");
      await proc.exited;
      throw new CheckError(`node ${id} did not exit within ${deadlineMs / 1000} s of ${signal} (killed with SIGKILL)`);
    }
    const expected = options.expectExitCode === undefined ? 0 : options.expectExitCode;
    if (expected !== null) {
      check(
        proc.exitCode === expected,
        `node ${id} exited with ${proc.exitCode === null ? `signal ${proc.signalCode}` : `code ${proc.exitCode}`} after ${signal}, expected code ${expected}`,
      );
    }
    return proc.exitCode;
  }

  /**
   * stopAll sends SIGTERM to every running node at once and waits up to `deadlineMs` for all of them; the ones
   * still running then get SIGKILL. Returns the ids that had to be killed (none after a clean stop).
   */
  async stopAll(deadlineMs = 20_000): Promise<number[]> {
    const ids = this.running();
    for (const id of ids) {
      if (this.node(id).paused) this.resume(id);
      this.node(id).proc!.kill("SIGTERM");
    }
    const all = Promise.all(ids.map((id) => this.node(id).proc!.exited));
    await Promise.race([all, Bun.sleep(deadlineMs)]);
    const late = ids.filter((id) => this.isRunning(id));
    for (const id of late) this.node(id).proc!.kill("SIGKILL");
    await all;
    return late;
  }

  /** signalAllSync sends `signal` to every running node without waiting; safe in an exit handler. */
  signalAllSync(signal: "SIGTERM" | "SIGKILL"): void {
    for (const id of this.running()) this.node(id).proc!.kill(signal);
  }

  /** restart stops node `id` with SIGTERM if it runs, then starts it again with `mode` on the same data dir. */
  async restart(id: number, mode: StartMode = {}): Promise<NodeHandle> {
    if (this.isRunning(id)) await this.stop(id);
    return this.start(id, mode);
  }

  /** kill9 kills node `id` with SIGKILL (a crash: nothing is flushed) and waits until it is gone. */
  async kill9(id: number): Promise<void> {
    const proc = this.node(id).proc;
    check(proc !== null && this.isRunning(id), `node ${id} is not running`);
    proc.kill("SIGKILL");
    await proc.exited;
    this.node(id).paused = false;
  }

  /** pause freezes node `id` with SIGSTOP: its sockets stay open, it just stops answering. */
  pause(id: number): void {
    const node = this.node(id);
    check(node.proc !== null && this.isRunning(id), `node ${id} is not running`);
    node.proc.kill("SIGSTOP");
    node.paused = true;
  }

  resume(id: number): void {
    const node = this.node(id);
    check(node.proc !== null && this.isRunning(id), `node ${id} is not running`);
    node.proc.kill("SIGCONT");
    node.paused = false;
  }

  /** moveAddr gives a stopped node a new HTTP or raft port, for "restart with a changed address". */
  moveAddr(id: number, which: "http" | "raft"): string {
    check(!this.isRunning(id), `node ${id} must be stopped before its address changes`);
    const addr = `${loopback}:${freePort()}`;
    if (which === "http") this.node(id).httpAddr = addr;
    else this.node(id).raftAddr = addr;
    return addr;
  }

  /** rssBytes reads the resident memory of node `id`'s process from /proc (Linux); 0 when it is not running. */
  rssBytes(id: number): number {
    const proc = this.node(id).proc;
    if (proc === null || !this.isRunning(id)) return 0;
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  }

  // ---- Status ----------------------------------------------------------------------------------------------

  /** useHttp changes how the nodes' HTTP APIs are reached (certificates made in this launcher's root). */
  useHttp(http: MemberHttp): void {
    this.http = http;
  }

  /** status fetches GET /status of node `id`; null when it does not answer (or not with a status). */
  async status(id: number, timeoutMs = 2000): Promise<StatusJson | null> {
    const status = await fetchStatus(this.node(id).httpAddr, timeoutMs, this.http);
    if (status !== null) this.node(id).lastStatus = status;
    return status;
  }

  /** statuses fetches /status of each id in parallel; nodes that do not answer are left out. */
  async statuses(ids: number[] = this.running()): Promise<Map<number, StatusJson>> {
    const results = await Promise.all(ids.map(async (id) => [id, await this.status(id)] as const));
    const map = new Map<number, StatusJson>();
    for (const [id, status] of results) if (status !== null) map.set(id, status);
    return map;
  }

  // ---- Conditions (conditions.ts) --------------------------------------------------------------------------

  /** waitHttp waits until node `id` answers GET /status. */
  waitHttp(id: number, deadlineMs = 15_000): Promise<StatusJson> {
    return waitHttp(this, id, deadlineMs);
  }

  /**
   * waitForLeader waits until every node of `among` (default: the running ones) answers, exactly one of them
   * says is_leader, and all report that leader's id and the same term. Returns that view.
   */
  waitForLeader(options: { among?: number[]; deadlineMs?: number; what?: string } = {}): Promise<LeaderView> {
    return waitForLeader(this, options);
  }

  /** waitForVoters waits until node `via` lists exactly `voters` as voters (and no learners). */
  waitForVoters(via: number, voters: number[], deadlineMs = 20_000): Promise<StatusJson> {
    return waitForVoters(this, via, voters, deadlineMs);
  }

  /** waitConverged waits until `ids` all applied the same index with the same kv_hash; returns that index. */
  waitConverged(ids: number[] = this.running(), deadlineMs = 20_000): Promise<number> {
    return waitConverged(this, ids, deadlineMs);
  }

  /**
   * startFresh is the README's set-up for `ids` (default: all of them): node ids[0] bootstraps, then the others
   * join through it, one membership change at a time (each joins once the one before is a voter). Returns the
   * leader once every node lists exactly `ids` as voters and all agree on it.
   */
  async startFresh(options: { deadlineMs?: number; ids?: number[] } = {}): Promise<LeaderView> {
    const deadlineMs = options.deadlineMs ?? 30_000;
    const ids = options.ids ?? this.ids;
    const first = ids[0]!;
    await this.start(first, { bootstrap: true });
    await this.waitHttp(first);
    await waitFor(async () => (await this.status(first))?.is_leader || null, { deadlineMs, what: `bootstrapped node ${first} to lead` });
    for (const [k, id] of ids.slice(1).entries()) {
      await this.start(id, { join: first });
      // A person types the next command a moment later; waiting for the HTTP port is the same courtesy.
      await this.waitHttp(id);
      await this.waitForVoters(first, ids.slice(0, k + 2), deadlineMs);
    }
    // Every node, not just the leader, must have applied the last promotion before the cluster counts as formed.
    for (const id of ids) await this.waitForVoters(id, ids, deadlineMs);
    return this.waitForLeader({ among: ids, deadlineMs });
  }

  // ---- Reports and teardown ------------------------------------------------------------------------------

  describeExit(id: number): string {
    const proc = this.node(id).proc;
    if (proc === null) return "never started";
    if (proc.exitCode !== null) return `exit code ${proc.exitCode}`;
    if (proc.signalCode !== null) return `signal ${proc.signalCode}`;
    return this.node(id).paused ? `paused, pid ${proc.pid}` : `running, pid ${proc.pid}`;
  }

  /** diagnostics: per node, its process state, its last /status and the tail of its log. */
  diagnostics(logLines = 20): Promise<string> {
    return diagnostics(this, logLines);
  }

  /** explain runs `fn`; if it throws, the error message gets the cluster's diagnostics appended (for bun test). */
  async explain<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      this.failed = true;
      if (error instanceof Error) error.message += `\n${await this.diagnostics(15)}`;
      throw error;
    }
  }

  /**
   * destroy kills every node with SIGKILL and removes the temp dir (kept when `keepFiles`, by default after a
   * failed explain(), and always when the root was given).
   */
  async destroy(options: { keepFiles?: boolean } = {}): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const node of this.nodes.values()) {
      if (node.proc !== null && this.isRunning(node.id)) {
        node.proc.kill("SIGKILL");
        await node.proc.exited;
      }
    }
    if (!this.ownsRoot || (options.keepFiles ?? this.failed)) return;
    rmSync(this.root, { recursive: true, force: true });
  }

  /** shownPath: a path as passed on a node's command line, "./x" when under the nodes' cwd (as the README types it). */
  private shownPath(target: string): string {
    const relative = path.relative(this.options.cwd ?? this.root, target);
    return relative.startsWith("..") || path.isAbsolute(relative) ? target : `./${relative}`;
  }
}
