import { defineCommand } from "citty";
import { alarmDisarmArgs, alarmListArgs } from "../args.ts";
import { useClientTls } from "../client.ts";
import { print } from "../format.ts";
import { parseDuration, parseInteger } from "../parse.ts";
import { UsageError } from "../usage_error.ts";

// `qklzl alarm list|disarm` (etcdctl's `alarm list|disarm`): the replicated alarms, README "Guardrails". Any
// member answers a list from its applied state; a disarm goes through the leader (a follower forwards it).

interface AlarmJson {
  member_id: number;
  alarm: string;
}

function lines(alarms: AlarmJson[]): string {
  return alarms.map((a) => `memberID:${a.member_id} alarm:${a.alarm}`).join("\n");
}

const listCommand = defineCommand({
  meta: { name: "list", description: "List the raised alarms (NOSPACE, CORRUPT), one per line" },
  args: alarmListArgs,
  async run({ args }) {
    useClientTls(args);
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "GET", "/alarms", undefined, { timeoutMs: parseDuration("timeout", args.timeout), followLeader: false })) as { alarms: AlarmJson[] };
    if (args.json) print(JSON.stringify(answer));
    else if (answer.alarms.length > 0) print(lines(answer.alarms));
  },
});

const disarmCommand = defineCommand({
  meta: { name: "disarm", description: "Disarm the raised alarms (all, or --member N / --type T); prints those disarmed" },
  args: alarmDisarmArgs,
  async run({ args }) {
    const body: Record<string, unknown> = {};
    if (args.member !== undefined) body.member_id = parseInteger("member", args.member, 1);
    if (args.type !== undefined) {
      const type = args.type.toUpperCase();
      if (type !== "NOSPACE" && type !== "CORRUPT") throw new UsageError(`--type must be NOSPACE or CORRUPT, got ${JSON.stringify(args.type)}`, "alarm disarm");
      body.alarm = type;
    }
    useClientTls(args);
    const { request } = await import("../client.ts");
    const answer = (await request(args.addr, "POST", "/alarms/disarm", body, { timeoutMs: parseDuration("timeout", args.timeout), followLeader: true })) as {
      alarms: AlarmJson[];
    };
    if (args.json) print(JSON.stringify(answer));
    else if (answer.alarms.length > 0) print(lines(answer.alarms));
  },
});

export const alarmCommand = defineCommand({
  meta: { name: "alarm", description: "Alarms: alarm list | disarm [--member N] [--type NOSPACE|CORRUPT]" },
  subCommands: { list: listCommand, disarm: disarmCommand },
});
