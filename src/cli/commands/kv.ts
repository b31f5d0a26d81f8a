import { useClientTls } from "../client.ts";
import { defineCommand } from "citty";
import { kvDeleteArgs, kvGetArgs, kvPutArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";
import { kvListCommand } from "./kv_list.ts";

// `qklzl kv get|put|delete|list`: HTTP requests following the leader hint; errors reach main.ts, which prints
// them and exits 1. Writes carry a request id (a hyperid unless --request-id), so the CLI retries them while
// their outcome is unknown (retry_write.ts) without ever applying one twice.

interface WriteAnswer {
  ok: boolean;
  index: number;
  revision: number;
  prev_kv?: { value: string; mod_revision: number; version: number };
  deleted?: number;
}

function requireKey(key: string | undefined, command: string): string {
  if (key === undefined || key === "") throw new UsageError("missing KEY", command);
  return key;
}

/** conditionOf: the `"if"` of --if-mod-revision / --if-absent / --if-value (one at most), or undefined. */
function conditionOf(args: { "if-mod-revision"?: string; "if-absent"?: boolean; "if-value"?: string }, command: string): Record<string, unknown> | undefined {
  const given = [args["if-mod-revision"] !== undefined, args["if-absent"] === true, args["if-value"] !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError("--if-mod-revision, --if-absent and --if-value exclude each other", command);
  if (args["if-mod-revision"] !== undefined) return { mod_revision: parseInteger("if-mod-revision", args["if-mod-revision"], 0) };
  if (args["if-absent"] === true) return { version: 0 };
  if (args["if-value"] !== undefined) return { value: args["if-value"] };
  return undefined;
}

async function write(addr: string, timeout: string, body: Record<string, unknown>, requestId: string | undefined): Promise<WriteAnswer> {
  const timeoutMs = parseDuration("timeout", timeout);
  const { newRequestId, retryWrite } = await import("../retry_write.ts");
  const withId = { ...body, request_id: requestId ?? newRequestId() };
  return (await retryWrite(addr, "/kv", withId, timeoutMs)) as WriteAnswer;
}

const getCommand = defineCommand({
  meta: { name: "get", description: "Read a key (linearizable by default on any member; --consistency stale reads locally; --revision from history)" },
  args: kvGetArgs,
  async run({ args }) {
    const key = requireKey(args.KEY, "kv get");
    const timeoutMs = parseDuration("timeout", args.timeout);
    useClientTls(args);
    const query = new URLSearchParams({ key });
    if (args.consistency === "stale") query.set("consistency", "stale");
    const { request } = await import("../client.ts");
    if (args.revision === undefined) {
      const body = (await request(args.addr, "GET", `/kv?${query}`, undefined, { timeoutMs, followLeader: true })) as { key: string; value: string };
      print(args.json ? JSON.stringify(body) : body.value);
      return;
    }
    query.set("revision", String(parseInteger("revision", args.revision, 0)));
    const range = (await request(args.addr, "GET", `/kv?${query}`, undefined, { timeoutMs, followLeader: true })) as {
      kvs: Array<{ key: string; value: string; create_revision: number; mod_revision: number; version: number }>;
      revision: number;
    };
    const kv = range.kvs[0];
    if (kv === undefined) {
      const { QklzlError } = await import("../../shared/errors.ts");
      throw new QklzlError("key_not_found", `key ${JSON.stringify(key)} not found at revision ${args.revision}`);
    }
    const { key: k, value, create_revision, mod_revision, version } = kv;
    print(args.json ? JSON.stringify({ key: k, value, create_revision, mod_revision, version, revision: range.revision }) : value);
  },
});

const putCommand = defineCommand({
  meta: { name: "put", description: "Write a key (optionally only if --if-mod-revision N / --if-absent / --if-value X); answers once committed and applied" },
  args: kvPutArgs,
  async run({ args }) {
    const key = requireKey(args.KEY, "kv put");
    if (args.value === undefined) throw new UsageError("missing VALUE (a value starting with '-' goes after --: kv put KEY -- -5)", "kv put");
    useClientTls(args);
    const condition = conditionOf(args, "kv put");
    const body: Record<string, unknown> = { op: "put", key, value: args.value };
    if (condition !== undefined) body.if = condition;
    if (args["prev-kv"]) body.prev_kv = true;
    if (args.lease !== undefined) body.lease = parseInteger("lease", args.lease, 1);
    const answer = await write(args.addr, args.timeout, body, args["request-id"]);
    if (args.json) return print(JSON.stringify(answer));
    print(`OK (index ${answer.index})`);
    if (args["prev-kv"]) print(answer.prev_kv === undefined ? "(no previous value)" : answer.prev_kv.value);
  },
});

const deleteCommand = defineCommand({
  meta: { name: "delete", description: "Delete a key (optionally only if --if-mod-revision N / --if-value X); answers once committed and applied" },
  args: kvDeleteArgs,
  async run({ args }) {
    const key = requireKey(args.KEY, "kv delete");
    useClientTls(args);
    const condition = conditionOf(args, "kv delete");
    const body: Record<string, unknown> = { op: "delete", key };
    if (condition !== undefined) body.if = condition;
    const answer = await write(args.addr, args.timeout, body, args["request-id"]);
    print(args.json ? JSON.stringify(answer) : `OK (index ${answer.index})`);
  },
});

/** kvCommand groups get, put, delete and list. */
export const kvCommand = defineCommand({
  meta: { name: "kv", description: "Read and write keys: kv get|put|delete KEY [VALUE], kv list PREFIX" },
  subCommands: { get: getCommand, put: putCommand, delete: deleteCommand, list: kvListCommand },
});
