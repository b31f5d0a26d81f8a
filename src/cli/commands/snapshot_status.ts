import { defineCommand } from "citty";
import { snapshotStatusArgs } from "../args.ts";
import { print, table } from "../format.ts";

/** snapshotStatusCommand: `qklzl snapshot status FILE [--json]` verifies a backup file and prints its summary. */
export const snapshotStatusCommand = defineCommand({
  meta: { name: "status", description: "Verify a backup file (length, sha256) and print its revision, keys, size and hash" },
  args: snapshotStatusArgs,
  async run({ args }) {
    const { verifyBackupFile } = await import("../../node/backup/verify_file.ts");
    const { header, size, sha256 } = verifyBackupFile(args.file);
    const summary = {
      revision: header.revision,
      keys: header.keys,
      size,
      hash: header.kv_hash,
      sha256,
      index: header.index,
      term: header.term,
      cluster_id: header.cluster_id,
      node_id: header.node_id,
      created_at: header.created_at,
    };
    if (args.json === true) {
      print(JSON.stringify(summary));
      return;
    }
    print(table(["REVISION", "KEYS", "SIZE", "HASH", "INDEX", "TERM", "NODE", "CREATED"], [
      [String(header.revision), String(header.keys), String(size), header.kv_hash, String(header.index), String(header.term), String(header.node_id), header.created_at],
    ]));
    print(`sha256 ${sha256} (verified)`);
  },
});
