import { UsageError } from "./usage_error.ts";

// parse.ts: pure parsers for flag values. Each throws a UsageError naming the flag and the bad value.

/** parseHostPort accepts "host:port" (also "[::1]:port", and an "http://" prefix) with a port in 1..65535. */
export function parseHostPort(flag: string, raw: string | undefined): string {
  const text = (raw ?? "").trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`--${flag} must be host:port with a port in 1..65535, got ${JSON.stringify(raw ?? "")}`);
  }
  return `${match[1]}:${port}`;
}

/** parseInteger reads a decimal integer in [min, max]. */
export function parseInteger(flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = (raw ?? "").trim();
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new UsageError(`--${flag} must be an integer ${range}, got ${JSON.stringify(raw ?? "")}`);
  }
  return value;
}

const durationUnits: Record<string, number> = { "": 1, ms: 1, s: 1000, m: 60_000 };

/** parseDuration reads milliseconds: "500", "500ms", "5s", "1m"; at least 1 ms. */
export function parseDuration(flag: string, raw: string | undefined): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec((raw ?? "").trim());
  const value = match === null ? NaN : Math.round(Number(match[1]) * durationUnits[match[2] ?? ""]!);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--${flag} must be a duration like 500ms or 5s, got ${JSON.stringify(raw ?? "")}`);
  }
  return value;
}

const byteUnits: Record<string, number> = { "": 1, b: 1, kib: 1024, kb: 1000, mib: 1024 ** 2, mb: 1000 ** 2, gib: 1024 ** 3, gb: 1000 ** 3 };

/** parseBytes reads a size: "4096", "64MiB", "1MB" (KiB/MiB/GiB are powers of 1024); at least min. */
export function parseBytes(flag: string, raw: string | undefined, min: number): number {
  const match = /^(\d+)\s*([a-zA-Z]*)$/.exec((raw ?? "").trim());
  const unit = match === null ? undefined : byteUnits[match[2]!.toLowerCase()];
  const value = match === null || unit === undefined ? NaN : Number(match[1]) * unit;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${flag} must be a size >= ${min} bytes (e.g. 4096 or 64MiB), got ${JSON.stringify(raw ?? "")}`);
  }
  return value;
}
