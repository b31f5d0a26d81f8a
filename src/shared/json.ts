import { QklzlError } from "./errors.ts";

/** JsonObject is a parsed request body: always a plain object, never an array or null. */
export type JsonObject = Record<string, unknown>;

/** describeJsonType names a JSON value's type the way a client would read it in an error message. */
export function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return "a number";
  if (typeof value === "boolean") return "a boolean";
  return typeof value;
}

/** requireString reads a required string field of a request body; bad_request names the field and what it got. */
export function requireString(body: JsonObject, field: string): string {
  const value = body[field];
  if (value === undefined) throw new QklzlError("bad_request", `missing field "${field}"`);
  if (typeof value !== "string") {
    throw new QklzlError("bad_request", `field "${field}" must be a string, got ${describeJsonType(value)}`);
  }
  return value;
}
