import { assert } from "../../shared/assert.ts";
import { isQklzlError, QklzlError } from "../../shared/errors.ts";
import { describeJsonType, type JsonObject } from "../../shared/json.ts";

/** utf8Strict refuses invalid UTF-8 instead of silently storing U+FFFD in place of the bytes a client sent. */
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function tooLarge(bytes: string, maxBodyBytes: number): QklzlError {
  return new QklzlError("too_large", `request body of ${bytes} bytes is over the limit of ${maxBodyBytes} bytes`, {
    limit_bytes: maxBodyBytes,
  });
}

/**
 * readBodyText reads at most maxBodyBytes of the body. A declared Content-Length over the limit is refused before a
 * byte is read; a chunked body is counted as it streams and dropped as soon as it passes the limit, so memory per
 * request stays bounded whatever the client sends.
 */
export async function readBodyText(req: Request, maxBodyBytes: number): Promise<string> {
  return bodyText(await readBodyBytes(req, maxBodyBytes));
}

/** bodyText: the body bytes as text; invalid UTF-8 is a 400. */
export function bodyText(bytes: Uint8Array): string {
  if (bytes.length === 0) return "";
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new QklzlError("bad_request", "request body is not valid UTF-8");
  }
}

/**
 * readBodyBytes: the body as bytes, with readBodyText's bounds (a raw value, PUT /kv/KEY). One async function
 * per body read, not three: each costs a generator, a promise and a scope per request, on every write.
 */
export async function readBodyBytes(req: Request, maxBodyBytes: number): Promise<Uint8Array> {
  assert(maxBodyBytes > 0, "maxBodyBytes is positive");
  const declared = req.headers.get("content-length");
  let bytes: Uint8Array;
  if (declared !== null) {
    const length = Number(declared);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new QklzlError("bad_request", `invalid Content-Length header: ${JSON.stringify(declared)}`);
    }
    if (length > maxBodyBytes) throw tooLarge(String(length), maxBodyBytes);
    if (length === 0) return new Uint8Array(0);
    try {
      bytes = await req.bytes();
    } catch (error) {
      throw refused(error);
    }
  } else {
    try {
      bytes = await readStreamCapped(req, maxBodyBytes);
    } catch (error) {
      throw refused(error);
    }
  }
  // Paired with the checks above: whatever path we took, no more than the limit reached the parser.
  assert(bytes.byteLength <= maxBodyBytes, "body within the limit");
  return bytes;
}

/** refused: a body cut short or broken (client gone, bad chunk framing) is the client's fault, not a 500. */
function refused(error: unknown): QklzlError {
  if (isQklzlError(error)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new QklzlError("bad_request", `request body could not be read: ${reason}`);
}

async function readStreamCapped(req: Request, maxBodyBytes: number): Promise<Uint8Array> {
  const body = req.body;
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBodyBytes) {
      void reader.cancel().catch(() => {});
      throw tooLarge(`more than ${maxBodyBytes}`, maxBodyBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** parseJsonObject parses a body that must be one JSON object; anything else is a 400 naming the problem. */
export function parseJsonObject(text: string): JsonObject {
  if (text.length === 0) throw new QklzlError("bad_request", "request body is empty; a JSON object is required");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new QklzlError("bad_request", `request body is not valid JSON: ${reason}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new QklzlError("bad_request", `request body must be a JSON object, got ${describeJsonType(value)}`);
  }
  return value as JsonObject;
}
