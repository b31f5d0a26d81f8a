import type { AlarmType } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import type { JsonObject } from "../../shared/json.ts";
import type { AlarmApi } from "../api.ts";
import { type Handler, leaderOnly, readObject, type RouteContext } from "./context.ts";

// The alarm routes (README "Guardrails"): GET /alarms lists this member's applied alarms; POST /alarms/disarm
// and POST /alarms/activate go through the log on the leader (a follower forwards them once, as /join).
// GET /hashes serves this member's recent state hashes to the leader's corruption check.

function alarmApi(ctx: RouteContext): AlarmApi {
  if (ctx.api.alarms === undefined) throw new QklzlError("not_found", "this node serves no alarms");
  return ctx.api.alarms;
}

function parseAlarmType(value: unknown): AlarmType | undefined {
  if (value === undefined || value === "NONE") return undefined;
  if (value === "NOSPACE" || value === "CORRUPT") return value;
  throw new QklzlError("bad_request", `field "alarm" must be "NOSPACE" or "CORRUPT", got ${JSON.stringify(value)}`);
}

function parseMember(value: unknown, required: boolean): number | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) throw new QklzlError("bad_request", 'field "member_id" must be a positive integer');
  return value;
}

function onlyFields(body: JsonObject, allowed: string[]): void {
  for (const name of Object.keys(body)) {
    if (!allowed.includes(name)) throw new QklzlError("bad_request", `unknown field ${JSON.stringify(name)}; expected ${allowed.join(", ")}`);
  }
}

const getAlarms: Handler = async (ctx) => Response.json({ alarms: alarmApi(ctx).list() });

const getHashes: Handler = async (ctx) => Response.json({ id: ctx.api.status().id, samples: alarmApi(ctx).hashes() });

/** POST /alarms/disarm {} | {"member_id"?, "alarm"?}: disarms the matching alarms -> {"alarms": [disarmed]}. */
const postDisarm: Handler = async (ctx, req, target) => {
  const { text, body } = await readObject(ctx, req);
  onlyFields(body, ["member_id", "alarm"]);
  const memberId = parseMember(body.member_id, false);
  const alarm = parseAlarmType(body.alarm);
  const api = alarmApi(ctx);
  return leaderOnly(ctx, req, target, { wanted: true, body: text }, () => api.disarm({ memberId, alarm }), (alarms) => Response.json({ alarms }));
};

/** POST /alarms/activate {"member_id","alarm"}: raises an alarm (etcd's Alarm ACTIVATE) -> {"alarms": [raised]}. */
const postActivate: Handler = async (ctx, req, target) => {
  const { text, body } = await readObject(ctx, req);
  onlyFields(body, ["member_id", "alarm"]);
  const memberId = parseMember(body.member_id, true)!;
  const alarm = parseAlarmType(body.alarm);
  if (alarm === undefined) throw new QklzlError("bad_request", 'field "alarm" is required: "NOSPACE" or "CORRUPT"');
  const api = alarmApi(ctx);
  return leaderOnly(ctx, req, target, { wanted: true, body: text }, () => api.activate(memberId, alarm), (alarms) => Response.json({ alarms }));
};

/** alarmRoutes: the paths and their handlers, for routes.ts's table. */
export const alarm_routes = {
  "/alarms": { GET: getAlarms },
  "/alarms/disarm": { POST: postDisarm },
  "/alarms/activate": { POST: postActivate },
  "/hashes": { GET: getHashes },
} as const;
