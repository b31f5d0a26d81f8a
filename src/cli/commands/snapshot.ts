import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { snapshotArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration } from "../parse.ts";

const subcommands = {
  save: () => import("./snapshot_save.ts").then((m) => m.snapshotSaveCommand),
  status: () => import("./snapshot_status.ts").then((m) => m.snapshotStatusCommand),
  restore: () => import("./snapshot_restore.ts").then((m) => m.snapshotRestoreCommand),
};

/**
 * snapshotCommand: `qklzl snapshot` makes the node at --addr (not the leader) snapshot and compact now;
 * `qklzl snapshot save|status|restore` are backups (README "Backup and recovery").
 */
export const snapshotCommand = defineCommand({
  meta: { name: "snapshot", description: "Take a snapshot on the node at --addr now and compact its log; or save, status, restore a backup" },
  args: snapshotArgs,
  subCommands: subcommands,
  async run({ args }) {
    // citty runs this after a subcommand too: only the bare `qklzl snapshot` is ours.
    if (typeof args._[0] === "string" && args._[0] in subcommands) return;
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "POST", "/snapshot", undefined, { timeoutMs, followLeader: false })) as { index: number };
    print(`OK: snapshot at index ${answer.index}`);
  },
});
