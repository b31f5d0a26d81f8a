import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { transferArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

/** transferLeaderCommand: `qklzl transfer-leader --to N` hands leadership to voter N. */
export const transferLeaderCommand = defineCommand({
  meta: { name: "transfer-leader", description: "Hand leadership to another voter (--to N)" },
  args: transferArgs,
  async run({ args }) {
    if (args.to === undefined) throw new UsageError("missing --to N (the voter that should lead)", "transfer-leader");
    const id = parseInteger("to", args.to, 1);
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { request } = await import("../client.ts");
    await request(args.addr, "POST", "/transfer-leader", { id }, { timeoutMs, followLeader: true });
    print(`OK: node ${id} leads`);
  },
});
