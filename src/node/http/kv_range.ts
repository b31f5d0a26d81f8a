import { type CommandLimits, from_key_range_end, prefixEnd, type RangeRequest, type SortOrder, type SortTarget, validateRange } from "../../kv/index.ts";
import { QklzlError } from "../../shared/errors.ts";
import { leaderOnly, type RouteContext } from "./context.ts";
import { decodeText, type Encoding, parseEncoding, rangeJson } from "./kv_json.ts";
import type { RequestTarget } from "./url.ts";
import { parseConsistency, parseFlag } from "./validate.ts";

/**
 * range_params: a GET /kv with any of these is a range (the answer {"kvs","count","more","revision"}); one
 * with only key (and consistency/forward) keeps the original single-key answer, byte for byte.
 */
const range_params = [
  "prefix", "range_end", "from_key", "limit", "sort", "order", "keys_only", "count_only", "revision", "encoding",
  "min_mod_revision", "max_mod_revision", "min_create_revision", "max_create_revision",
] as const;

const known_params = new Set<string>([...range_params, "key", "consistency", "forward"]);

export function isRangeQuery(params: URLSearchParams): boolean {
  return range_params.some((name) => params.has(name));
}

function count(params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new QklzlError("bad_request", `${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function oneOf<T extends string>(params: URLSearchParams, name: string, options: readonly T[]): T | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  if (!options.includes(text as T)) throw new QklzlError("bad_request", `${name} must be one of ${options.join(", ")}, got ${JSON.stringify(text)}`);
  return text as T;
}

/** parseRangeQuery turns GET /kv's query into a validated RangeRequest (src/kv's validateRange: the one rule set). */
export function parseRangeQuery(params: URLSearchParams, bounds: CommandLimits): { request: RangeRequest; encoding: Encoding } {
  for (const name of params.keys()) {
    if (!known_params.has(name)) throw new QklzlError("bad_request", `unknown query parameter ${JSON.stringify(name)}`);
  }
  const encoding = parseEncoding(params.get("encoding") ?? undefined);
  const prefix = params.get("prefix");
  const key = params.get("key");
  const rangeEnd = params.get("range_end");
  const fromKey = parseFlag("from_key", params.get("from_key"));
  const request: RangeRequest = { key: "" };
  if (prefix !== null) {
    if (key !== null || rangeEnd !== null || fromKey) throw new QklzlError("bad_request", "prefix goes alone: not with key, range_end or from_key");
    const p = decodeText(prefix, "prefix", encoding);
    // The empty prefix is every key (etcd: key "\0", range_end "\0").
    request.key = p === "" ? from_key_range_end : p;
    request.range_end = p === "" ? from_key_range_end : prefixEnd(p);
  } else {
    if (key === null) throw new QklzlError("bad_request", 'missing query parameter "key" (or "prefix")');
    request.key = decodeText(key, "key", encoding);
    if (rangeEnd !== null && fromKey) throw new QklzlError("bad_request", "range_end and from_key exclude each other");
    if (rangeEnd !== null) request.range_end = decodeText(rangeEnd, "range_end", encoding);
    if (fromKey) request.range_end = from_key_range_end;
  }
  const fields: Array<[keyof RangeRequest, number | undefined]> = [
    ["limit", count(params, "limit")],
    ["revision", count(params, "revision")],
    ["min_mod_revision", count(params, "min_mod_revision")],
    ["max_mod_revision", count(params, "max_mod_revision")],
    ["min_create_revision", count(params, "min_create_revision")],
    ["max_create_revision", count(params, "max_create_revision")],
  ];
  for (const [name, value] of fields) if (value !== undefined) (request as unknown as Record<string, number>)[name] = value;
  const sort = oneOf<SortTarget>(params, "sort", ["key", "create", "mod", "version", "value"]);
  const order = oneOf<Exclude<SortOrder, "none">>(params, "order", ["asc", "desc"]);
  if (sort !== undefined || order !== undefined) {
    request.sort_target = sort ?? "key";
    request.sort_order = order ?? "asc";
  }
  if (parseFlag("keys_only", params.get("keys_only"))) request.keys_only = true;
  if (parseFlag("count_only", params.get("count_only"))) request.count_only = true;
  return { request: validateRange(request, bounds), encoding };
}

/** getKvRange answers a range GET /kv: linearizable by default, on any member (as the single-key read). */
export async function getKvRange(ctx: RouteContext, req: Request, target: RequestTarget, params: URLSearchParams): Promise<Response> {
  const { request, encoding } = parseRangeQuery(params, ctx.commandLimits);
  const consistency = parseConsistency(params.get("consistency"));
  const forward = parseFlag("forward", params.get("forward"));
  return leaderOnly(
    ctx,
    req,
    target,
    { wanted: forward, body: null },
    () => ctx.api.range(request, consistency),
    (range) => Response.json(rangeJson(range, encoding)),
  );
}
