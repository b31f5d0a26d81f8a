import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { snapshotArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration } from "../parse.ts";

/** snapshotCommand: `qklzl snapshot` makes the node at --addr (not the leader) snapshot and compact now. */
export const snapshotCommand = defineCommand({
  meta: { name: "snapshot", description: "Take a snapshot on the node at --addr now and compact its log" },
  args: snapshotArgs,
  async run({ args }) {
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "POST", "/snapshot", undefined, { timeoutMs, followLeader: false })) as { index: number };
    print(`OK: snapshot at index ${answer.index}`);
  },
});
