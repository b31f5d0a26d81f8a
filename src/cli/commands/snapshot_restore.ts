import { defineCommand } from "citty";
import { snapshotRestoreArgs } from "../args.ts";
import { print } from "../format.ts";
import { checkOwnEntry, parseInitialMembers } from "../initial_members.ts";
import { parseHostPort, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

/**
 * snapshotRestoreCommand: `qklzl snapshot restore FILE --data-dir D --id N --raft-addr A --http-addr B`, offline:
 * builds D for a new one-voter cluster from the backup (src/node/backup/restore.ts). Then start the node with
 * the same id and addresses, without --bootstrap; others --join it. With `--initial-members ID=RAFT/HTTP,...`
 * (run once per member, each with its own --id/--data-dir/addresses, which must match its entry): every listed
 * member a voter of one new cluster; start them all without --bootstrap or --join.
 */
export const snapshotRestoreCommand = defineCommand({
  meta: { name: "restore", description: "Create a data dir for a NEW one-node cluster from a backup (offline, like etcdutl snapshot restore)" },
  args: snapshotRestoreArgs,
  async run({ args }) {
    const need = (name: "data-dir" | "id" | "raft-addr" | "http-addr"): string => {
      const value = args[name];
      if (typeof value !== "string" || value.trim() === "") throw new UsageError(`missing --${name}`, "snapshot restore");
      return value.trim();
    };
    const dataDir = need("data-dir");
    const id = parseInteger("id", need("id"), 1);
    const raftAddr = parseHostPort("raft-addr", need("raft-addr"));
    const httpAddr = parseHostPort("http-addr", need("http-addr"));
    const listed = args["initial-members"];
    const initialMembers = typeof listed === "string" ? parseInitialMembers(listed) : undefined;
    // Checked before anything is read or written: a wrong entry would give this member another cluster id.
    if (initialMembers !== undefined) checkOwnEntry(initialMembers, { id, raftAddr, httpAddr });
    const { restoreBackup } = await import("../../node/backup/restore.ts");
    const result = await restoreBackup({ file: args.file, dataDir, id, raftAddr, httpAddr, ...(initialMembers === undefined ? {} : { initialMembers }) });
    const h = result.header;
    if (initialMembers !== undefined) {
      print(`Restored ${args.file} into ${dataDir}: revision ${h.revision}, ${h.keys} keys, hash ${h.kv_hash}, index ${h.index}; new cluster ${result.clusterId}, voters ${initialMembers.map((m) => m.id).join(",")}, node ${id} incarnation ${result.incarnation}`);
      print(`Restore every other member the same way (same file, same --initial-members), then start each, e.g.: qklzl start --id ${id} --data-dir ${dataDir} --raft-addr ${raftAddr} --http-addr ${httpAddr}   (no --bootstrap, no --join)`);
      return;
    }
    print(`Restored ${args.file} into ${dataDir}: revision ${h.revision}, ${h.keys} keys, hash ${h.kv_hash}, index ${h.index}; new cluster ${result.clusterId}, node ${id} its only voter (incarnation ${result.incarnation})`);
    print(`Start it with: qklzl start --id ${id} --data-dir ${dataDir} --raft-addr ${raftAddr} --http-addr ${httpAddr}   (others: --join ${httpAddr})`);
  },
});
