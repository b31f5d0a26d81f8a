import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { leaveArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

/** leaveCommand: `qklzl leave N` (or --id N) removes a member; the removed node shuts itself down. */
export const leaveCommand = defineCommand({
  meta: {
    name: "leave",
    description: "Remove a member from the cluster (it then shuts itself down). Before a wiped node of that id joins again, leave it first",
  },
  args: leaveArgs,
  async run({ args }) {
    if (args.node !== undefined && args.id !== undefined && args.node !== args.id) {
      throw new UsageError(`two different ids given: ${args.node} and --id ${args.id}`, "leave");
    }
    const raw = args.id ?? args.node;
    if (raw === undefined) throw new UsageError("missing the id of the member to remove (qklzl leave N)", "leave");
    const id = parseInteger("id", raw, 1);
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { request } = await import("../client.ts");
    await request(args.addr, "POST", "/leave", { id }, { timeoutMs, followLeader: true });
    print(`OK: node ${id} removed`);
  },
});
