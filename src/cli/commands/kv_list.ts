import { defineCommand } from "citty";
import { useClientTls } from "../client.ts";
import { kvListArgs } from "../args.ts";
import { print, table } from "../format.ts";
import { parseDuration, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

interface RangeAnswer {
  kvs: Array<{ key: string; value: string; create_revision: number; mod_revision: number; version: number }>;
  count: number;
  more: boolean;
  revision: number;
}

/** `qklzl kv list PREFIX`: GET /kv?prefix=…, as a table (default), simple lines or JSON. */
export const kvListCommand = defineCommand({
  meta: { name: "list", description: "List the keys under a prefix (linearizable by default; --revision from history)" },
  args: kvListArgs,
  async run({ args }) {
    useClientTls(args);
    const format = args.json ? "json" : (args.w ?? "table");
    if (format !== "table" && format !== "simple" && format !== "json") throw new UsageError(`-w must be table, simple or json, got ${JSON.stringify(format)}`, "kv list");
    const timeoutMs = parseDuration("timeout", args.timeout);
    const query = new URLSearchParams({ prefix: args.prefix ?? "" });
    if (args.limit !== undefined) query.set("limit", String(parseInteger("limit", args.limit, 1)));
    if (args.revision !== undefined) query.set("revision", String(parseInteger("revision", args.revision, 0)));
    if (args["keys-only"]) query.set("keys_only", "true");
    if (args.consistency === "stale") query.set("consistency", "stale");
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "GET", `/kv?${query}`, undefined, { timeoutMs, followLeader: true })) as RangeAnswer;
    if (format === "json") return print(JSON.stringify(answer));
    if (format === "simple") {
      for (const kv of answer.kvs) {
        print(kv.key);
        if (!args["keys-only"]) print(kv.value);
      }
      return;
    }
    const headers = args["keys-only"] ? ["KEY", "CREATE", "MOD", "VERSION"] : ["KEY", "VALUE", "CREATE", "MOD", "VERSION"];
    const rows = answer.kvs.map((kv) => {
      const numbers = [String(kv.create_revision), String(kv.mod_revision), String(kv.version)];
      return args["keys-only"] ? [kv.key, ...numbers] : [kv.key, kv.value, ...numbers];
    });
    print(table(headers, rows));
    const more = answer.more ? `, more: showing ${answer.kvs.length} of ${answer.count}` : "";
    print(`(${answer.kvs.length} keys at revision ${answer.revision}${more})`);
  },
});
