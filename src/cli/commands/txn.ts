import { defineCommand } from "citty";
import { useClientTls } from "../client.ts";
import { compactArgs, txnArgs } from "../args.ts";
import { print } from "../format.ts";
import { parseDuration, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

interface TxnAnswer {
  succeeded: boolean;
  responses: unknown[];
  revision: number;
  index: number;
}

/** readTxnJson reads the txn from FILE, or stdin for "-" or none; it must be one JSON object. */
async function readTxnJson(file: string | undefined): Promise<Record<string, unknown>> {
  const text = file === undefined || file === "-" ? await Bun.stdin.text() : await Bun.file(file).text().catch(() => {
    throw new UsageError(`cannot read ${file}`, "txn");
  });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`the txn is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, "txn");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new UsageError('the txn must be a JSON object {"compare","success","failure"}', "txn");
  return body as Record<string, unknown>;
}

/** `qklzl txn [FILE]`: POST /txn with the JSON of FILE or stdin; prints SUCCEEDED/FAILED and each response. */
export const txnCommand = defineCommand({
  meta: { name: "txn", description: 'Run a transaction: {"compare":[…],"success":[…],"failure":[…]} from FILE or stdin' },
  args: txnArgs,
  async run({ args }) {
    useClientTls(args);
    const timeoutMs = parseDuration("timeout", args.timeout);
    const body = await readTxnJson(args.file);
    const { newRequestId, retryWrite } = await import("../retry_write.ts");
    const requestId = args["request-id"] ?? (typeof body.request_id === "string" ? body.request_id : newRequestId());
    const answer = (await retryWrite(args.addr, "/txn", { ...body, request_id: requestId }, timeoutMs)) as TxnAnswer;
    if (args.json) return print(JSON.stringify(answer));
    print(`${answer.succeeded ? "SUCCEEDED" : "FAILED"} (revision ${answer.revision}, index ${answer.index})`);
    for (const response of answer.responses) print(JSON.stringify(response));
  },
});

/** `qklzl compact REV`: POST /compact; history below REV is dropped on every replica. */
export const compactCommand = defineCommand({
  meta: { name: "compact", description: "Drop history below revision REV on every replica (reads below it then fail with compacted)" },
  args: compactArgs,
  async run({ args }) {
    useClientTls(args);
    if (args.rev === undefined) throw new UsageError("missing REV", "compact");
    const revision = parseInteger("REV", args.rev, 1);
    const timeoutMs = parseDuration("timeout", args.timeout);
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "POST", "/compact", { revision }, { timeoutMs, followLeader: true })) as { compact_revision: number; index: number };
    print(args.json ? JSON.stringify(answer) : `OK: compacted at revision ${answer.compact_revision} (index ${answer.index})`);
  },
});
