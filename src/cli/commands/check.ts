import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { checkArgs } from "../args.ts";
import type { CheckVerdict } from "../consistency_check.ts";
import { print, printError } from "../format.ts";
import { parseDuration } from "../parse.ts";

/** check_exit: 0 all agree, 1 divergence, 3 inconclusive (no common index before the deadline, or a member down). */
export const check_exit = { agree: 0, diverged: 1, inconclusive: 3 } as const;

const poll_interval_ms = 100;

/**
 * checkCommand: `qklzl check` polls every member's /status until all report the same applied index, then
 * compares their kv_hash there. Under steady writes indexes rarely meet; it keeps polling until --wait.
 */
export const checkCommand = defineCommand({
  meta: { name: "check", description: "Compare every member's state hash at a common applied index (exit 1 on divergence)" },
  args: checkArgs,
  async run({ args }) {
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const waitMs = parseDuration("wait", args.wait);
    const { clusterView } = await import("../cluster_view.ts");
    const { judgeHashes } = await import("../consistency_check.ts");
    const deadline = Date.now() + waitMs;
    let verdict: CheckVerdict;
    let rounds = 0;
    for (;;) {
      rounds++;
      const view = await clusterView(args.addr, timeoutMs);
      verdict = judgeHashes(view.members.map(({ member, status }) => ({ id: member.id, status })));
      if (verdict.kind !== "waiting" || Date.now() + poll_interval_ms > deadline) break;
      await Bun.sleep(poll_interval_ms);
    }
    if (args.json) print(JSON.stringify({ ...verdict, rounds }));
    process.exitCode = report(verdict, waitMs, Boolean(args.json));
  },
});

function report(verdict: CheckVerdict, waitMs: number, quiet: boolean): number {
  if (verdict.kind === "agree") {
    if (!quiet) print(`OK: ${verdict.ids.length} members agree at applied index ${verdict.index}: hash ${verdict.hash} (${verdict.keys} keys)`);
    return check_exit.agree;
  }
  if (verdict.kind === "diverged") {
    if (!quiet) {
      printError(`DIVERGED at applied index ${verdict.index}:`);
      for (const { id, hash, keys } of verdict.hashes) printError(`  node ${id}: hash ${hash} (${keys} keys)`);
    }
    return check_exit.diverged;
  }
  if (!quiet) printError(`inconclusive after ${waitMs} ms: ${verdict.reason}`);
  return check_exit.inconclusive;
}
