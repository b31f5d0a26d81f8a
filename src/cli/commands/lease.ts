import { defineCommand } from "citty";
import { isQklzlError } from "../../shared/errors.ts";
import { leaseGrantArgs, leaseIdArgs, leaseKeepAliveArgs, leaseListArgs, leaseTtlArgs } from "../args.ts";
import { print, printError, table } from "../format.ts";
import { parseDuration, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

// `qklzl lease grant|revoke|keep-alive|ttl|list`: the lease API (README "Leases"). Any member answers (a
// follower forwards to the leader); errors reach main.ts, which prints them and exits 1.

function leaseId(raw: string | undefined, command: string): number {
  if (raw === undefined || raw === "") throw new UsageError("missing lease ID", command);
  return parseInteger("ID", raw, 1);
}

async function call(addr: string, method: string, path: string, body: unknown, timeoutMs: number): Promise<Record<string, unknown>> {
  const { request } = await import("../client.ts");
  return (await request(addr, method, path, body, { timeoutMs, followLeader: true })) as Record<string, unknown>;
}

const grantCommand = defineCommand({
  meta: { name: "grant", description: "Grant a lease of TTL seconds; prints its id (attach keys with a put naming it)" },
  args: leaseGrantArgs,
  async run({ args }) {
    if (args.ttl === undefined || args.ttl === "") throw new UsageError("missing TTL (seconds)", "lease grant");
    const ttl = parseInteger("TTL", args.ttl, 1);
    const body = args.id === undefined ? { ttl } : { ttl, id: parseInteger("id", args.id, 1) };
    const answer = await call(args.addr, "POST", "/lease/grant", body, parseDuration("timeout", args.timeout));
    print(`lease ${answer.id} granted with TTL ${answer.ttl}s`);
  },
});

const revokeCommand = defineCommand({
  meta: { name: "revoke", description: "Revoke a lease: every key attached to it is deleted (in one revision)" },
  args: leaseIdArgs,
  async run({ args }) {
    const id = leaseId(args.lease, "lease revoke");
    const answer = await call(args.addr, "POST", "/lease/revoke", { id }, parseDuration("timeout", args.timeout));
    print(`lease ${id} revoked: ${answer.deleted} key(s) deleted at revision ${answer.revision}`);
  },
});

/**
 * keep-alive renews the lease every third of its TTL until Ctrl-C (or once, with --once). A failed renewal
 * (node down, no leader) is reported and retried on the next beat; lease_not_found (expired or revoked) ends it
 * with exit 1.
 */
const keepAliveCommand = defineCommand({
  meta: { name: "keep-alive", description: "Keep a lease alive (every TTL/3) until Ctrl-C, or once with --once" },
  args: leaseKeepAliveArgs,
  async run({ args }) {
    const id = leaseId(args.lease, "lease keep-alive");
    const timeoutMs = parseDuration("timeout", args.timeout);
    if (args.once) {
      const answer = await call(args.addr, "POST", "/lease/keepalive", { id }, timeoutMs);
      print(`lease ${id} kept alive with TTL ${answer.ttl}s`);
      return;
    }
    let stopped = false;
    process.once("SIGINT", () => {
      stopped = true;
    });
    let periodMs = 1000;
    while (!stopped) {
      try {
        const answer = await call(args.addr, "POST", "/lease/keepalive", { id }, Math.min(timeoutMs, periodMs * 2));
        print(`lease ${id} kept alive with TTL ${answer.ttl}s`);
        periodMs = Math.max(200, Math.floor(((answer.ttl as number) * 1000) / 3));
      } catch (error) {
        if (isQklzlError(error) && error.code === "lease_not_found") throw error;
        printError(`keepalive of lease ${id} failed (retrying): ${error instanceof Error ? error.message : String(error)}`);
      }
      const until = performance.now() + periodMs;
      while (!stopped && performance.now() < until) await Bun.sleep(Math.min(100, until - performance.now()));
    }
  },
});

const ttlCommand = defineCommand({
  meta: { name: "ttl", description: "Show a lease's granted and remaining TTL (--keys: its keys)" },
  args: leaseTtlArgs,
  async run({ args }) {
    const id = leaseId(args.lease, "lease ttl");
    const answer = await call(args.addr, "GET", `/lease/${id}${args.keys ? "?keys=true" : ""}`, undefined, parseDuration("timeout", args.timeout));
    if (args.json) {
      print(JSON.stringify(answer));
      return;
    }
    print(`lease ${id} granted with TTL ${answer.granted_ttl}s, remaining ${answer.ttl}s`);
    if (args.keys) for (const key of answer.keys as string[]) print(key);
  },
});

const listCommand = defineCommand({
  meta: { name: "list", description: "List the leases (id and granted TTL)" },
  args: leaseListArgs,
  async run({ args }) {
    const answer = await call(args.addr, "GET", "/leases", undefined, parseDuration("timeout", args.timeout));
    const leases = answer.leases as { id: number; ttl: number }[];
    if (args.json) {
      print(JSON.stringify(answer));
      return;
    }
    print(table(["ID", "TTL"], leases.map((l) => [String(l.id), `${l.ttl}s`])));
  },
});

/** leaseCommand groups the lease subcommands. */
export const leaseCommand = defineCommand({
  meta: { name: "lease", description: "Leases: lease grant TTL | revoke ID | keep-alive ID [--once] | ttl ID [--keys] | list" },
  subCommands: { grant: grantCommand, revoke: revokeCommand, "keep-alive": keepAliveCommand, ttl: ttlCommand, list: listCommand },
});
