import { check, Launcher, type LauncherOptions } from "../../src/cli/launcher/index.ts";
import { nodeCommand } from "./binary.ts";
import { type HttpReply, request } from "./http.ts";
import { installCleanupHandlers } from "./procs.ts";

// cluster.ts: the scenarios' and multi-process tests' cluster: the one launcher (src/cli/launcher/) with this
// harness's defaults (one temp dir holding data1..dataN and one log file per node, the binary from binary.ts,
// CI-style plain output, every PID killed on exit) plus the node API's kv calls through http.ts.

export { tailLines } from "../../src/cli/launcher/index.ts";
export type { LeaderView, NodeHandle, StartMode, StopOptions } from "../../src/cli/launcher/index.ts";

export interface ClusterOptions {
  /** size: how many node ids (1..size) get ports and data dirs. Default 3. */
  size?: number;
  /** extraArgs: flags appended to every node's command line (e.g. fast timeouts). Default none. */
  extraArgs?: string[];
  /** name: prefix of the temp dir, for finding it after a failure. */
  name?: string;
}

/** Cluster owns its processes and its temp dir; destroy() kills the first and removes the second. */
export class Cluster extends Launcher {
  constructor(options: ClusterOptions = {}) {
    installCleanupHandlers();
    const size = options.size ?? 3;
    check(size >= 1 && size <= 9, `cluster size ${size} out of 1..9`);
    const launcherOptions: LauncherOptions = {
      size,
      name: options.name,
      extraArgs: options.extraArgs,
      command: nodeCommand,
      output: "log",
      env: { CI: "true", NO_COLOR: "1" },
    };
    super(launcherOptions);
  }

  put(id: number, key: string, value: string, timeoutMs?: number): Promise<HttpReply> {
    return request(this.node(id).httpAddr, "/kv", { json: { op: "put", key, value }, timeoutMs });
  }

  del(id: number, key: string, timeoutMs?: number): Promise<HttpReply> {
    return request(this.node(id).httpAddr, "/kv", { json: { op: "delete", key }, timeoutMs });
  }

  get(id: number, key: string, options: { consistency?: "stale" | "linearizable"; timeoutMs?: number } = {}): Promise<HttpReply> {
    const consistency = options.consistency === undefined ? "" : `&consistency=${options.consistency}`;
    return request(this.node(id).httpAddr, `/kv?key=${encodeURIComponent(key)}${consistency}`, { timeoutMs: options.timeoutMs });
  }

  /** leaderWrite sends a write to the current leader (found through /status) and returns its reply. */
  async leaderWrite(body: { op: "put"; key: string; value: string } | { op: "delete"; key: string }): Promise<HttpReply> {
    const view = await this.waitForLeader({ deadlineMs: 15_000 });
    return request(this.node(view.leaderId).httpAddr, "/kv", { json: body });
  }
}
