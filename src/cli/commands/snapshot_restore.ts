import { defineCommand } from "citty";
import { snapshotRestoreArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseHostPort, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

/**
 * snapshotRestoreCommand: `qklzl snapshot restore FILE --data-dir D --id N --raft-addr A --http-addr B`, offline:
 * builds D for a new one-voter cluster from the backup (src/node/backup/restore.ts). Then start the node with
 * the same id and addresses, without --bootstrap; others --join it.
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
    const { restoreBackup } = await import("../../node/backup/restore.ts");
    const result = await restoreBackup({ file: args.file, dataDir, id, raftAddr, httpAddr });
    const h = result.header;
    print(`Restored ${args.file} into ${dataDir}: revision ${h.revision}, ${h.keys} keys, hash ${h.kv_hash}, index ${h.index}; new cluster ${result.clusterId}, node ${id} its only voter (incarnation ${result.incarnation})`);
    print(`Start it with: qklzl start --id ${id} --data-dir ${dataDir} --raft-addr ${raftAddr} --http-addr ${httpAddr}   (others: --join ${httpAddr})`);
  },
});
