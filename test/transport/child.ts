// Runs fixtures/peer_main.ts as a child process and follows its stdout lines.
import type { Subprocess } from "bun";

const BUN = process.execPath;
const MAIN = new URL("./fixtures/peer_main.ts", import.meta.url).pathname;

export interface ChildPeer {
  proc: Subprocess<"ignore", "pipe", "inherit">;
  addr: string;
  lines: string[];
  kill9(): Promise<void>;
}

export async function spawnPeer(id: number, listen = "127.0.0.1:0"): Promise<ChildPeer> {
  const proc = Bun.spawn([BUN, MAIN, String(id), listen], { stdin: "ignore", stdout: "pipe", stderr: "inherit", env: { ...process.env, CI: "true" } });
  const lines: string[] = [];
  let addr = "";
  let resolveAddr!: () => void;
  const gotAddr = new Promise<void>((r) => (resolveAddr = r));
  void (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line.startsWith("addr ")) {
          addr = line.slice(5);
          resolveAddr();
        }
      }
    }
  })();
  const started = await Promise.race([gotAddr.then(() => true), proc.exited.then(() => false), Bun.sleep(10_000).then(() => false)]);
  if (!started) {
    proc.kill(9);
    throw new Error(`peer ${id} did not start`);
  }
  return {
    proc,
    addr,
    lines,
    kill9: async () => {
      proc.kill(9);
      await proc.exited;
    },
  };
}
