import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { kvDeleteArgs, kvGetArgs, kvPutArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

// `qklzl kv get|put|delete`: one HTTP request each, following the leader hint; errors reach main.ts,
// which prints them and exits 1.

interface WriteAnswer {
  ok: boolean;
  index: number;
}

function requireKey(key: string | undefined, command: string): string {
  if (key === undefined || key === "") throw new UsageError("missing KEY", command);
  return key;
}

const getCommand = defineCommand({
  meta: { name: "get", description: "Read a key (linearizable by default on any member; --consistency stale reads locally)" },
  args: kvGetArgs,
  async run({ args }) {
    const key = requireKey(args.KEY, "kv get");
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const query = new URLSearchParams({ key });
    if (args.consistency === "stale") query.set("consistency", "stale");
    const { request } = await import("../client.ts");
    const body = (await request(args.addr, "GET", `/kv?${query}`, undefined, { timeoutMs, followLeader: true })) as { key: string; value: string };
    print(args.json ? JSON.stringify(body) : body.value);
  },
});

const putCommand = defineCommand({
  meta: { name: "put", description: "Write a key; answers once the write is committed and applied" },
  args: kvPutArgs,
  async run({ args }) {
    const key = requireKey(args.KEY, "kv put");
    if (args.value === undefined) throw new UsageError("missing VALUE (a value starting with '-' goes after --: kv put KEY -- -5)", "kv put");
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "POST", "/kv", { op: "put", key, value: args.value }, { timeoutMs, followLeader: true })) as WriteAnswer;
    print(`OK (index ${answer.index})`);
  },
});

const deleteCommand = defineCommand({
  meta: { name: "delete", description: "Delete a key; answers once the delete is committed and applied" },
  args: kvDeleteArgs,
  async run({ args }) {
    const key = requireKey(args.KEY, "kv delete");
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "POST", "/kv", { op: "delete", key }, { timeoutMs, followLeader: true })) as WriteAnswer;
    print(`OK (index ${answer.index})`);
  },
});

/** kvCommand groups get, put and delete. */
export const kvCommand = defineCommand({
  meta: { name: "kv", description: "Read and write keys: kv get|put|delete KEY [VALUE]" },
  subCommands: { get: getCommand, put: putCommand, delete: deleteCommand },
});
