import { defineCommand } from "citty";
import { QklzlError } from "../../shared/errors.ts";
import { electArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseInteger } from "../parse.ts";
import { campaign, currentLeader, type LeaderKv } from "../recipes/lock.ts";
import { UsageError } from "../usage_error.ts";

// TODO(watch): --listen polls every listen_poll_ms; switch to GET /watch on NAME/ once h11's watch hub is merged.
const listen_poll_ms = 200;

/**
 * electCommand: `qklzl elect NAME PROPOSAL` campaigns (README "Locks and elections"), prints one line once
 * elected and leads until Ctrl-C (then resigns: its key is deleted) or until its lease is lost (exit 1).
 * `--listen` prints the leader's proposal whenever the leadership changes, and "(no leader)" when there is none.
 */
export const electCommand = defineCommand({
  meta: { name: "elect", description: "Leader election: elect NAME PROPOSAL (campaign and lead until Ctrl-C) or elect NAME --listen" },
  args: electArgs,
  async run({ args }) {
    const name = args.name;
    if (name === undefined || name === "") throw new UsageError("missing election NAME", "elect");
    const { request } = await import("../client.ts");
    const call = async (method: string, path: string, body?: unknown) =>
      (await request(args.addr, method, path, body, { timeoutMs: 5000, followLeader: true })) as Record<string, unknown>;
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once("SIGINT", onSigint);
    if (args.listen) {
      let shown: LeaderKv | null | undefined;
      while (!abort.signal.aborted) {
        const leader = await currentLeader(call, name);
        if (shown === undefined || leader?.key !== shown?.key || leader?.create_revision !== shown?.create_revision) {
          print(leader === null ? "(no leader)" : leader.value);
          shown = leader;
        }
        await Bun.sleep(listen_poll_ms);
      }
      return;
    }
    if (args.proposal === undefined) throw new UsageError("missing PROPOSAL (or --listen)", "elect");
    const held = await campaign(call, name, args.proposal, parseInteger("ttl", args.ttl, 1), abort.signal);
    try {
      print(`elected: ${args.proposal} (key ${held.key}, revision ${held.revision})`);
      const stopped = new Promise<"stopped">((resolve) => abort.signal.addEventListener("abort", () => resolve("stopped")));
      const outcome = await Promise.race([stopped, held.lost]);
      if (outcome !== "stopped") throw new QklzlError("lease_not_found", `leadership of ${JSON.stringify(name)} lost (lease ${held.lease} expired)`);
    } finally {
      process.off("SIGINT", onSigint);
      await held.release().catch(() => {});
    }
  },
});
