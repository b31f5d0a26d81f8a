import { defineCommand } from "citty";
import { QklzlError } from "../../shared/errors.ts";
import { electArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseInteger } from "../parse.ts";
import { observeLeader } from "../recipes/election.ts";
import { campaign } from "../recipes/lock.ts";
import { UsageError } from "../usage_error.ts";

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
    const { memberCaller } = await import("../recipes/member_caller.ts");
    const addrs = args.addr.split(",");
    const client = { call: memberCaller(addrs, 5000), addrs };
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once("SIGINT", onSigint);
    if (args.listen) {
      await observeLeader(client, name, (leader) => print(leader === null ? "(no leader)" : leader.value), abort.signal);
      return;
    }
    if (args.proposal === undefined) throw new UsageError("missing PROPOSAL (or --listen)", "elect");
    const held = await campaign(client, { name, value: args.proposal, ttl: parseInteger("ttl", args.ttl, 1), signal: abort.signal });
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
