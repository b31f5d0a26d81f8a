// check.ts: the assertions the launcher, the scenarios and the tests share. A failed check throws CheckError, whose
// message is what scenarios/run.ts prints as "the assertion", so every message says what was expected and what
// was seen.

/** CheckError is a failed expectation about the cluster's observable behaviour (never a harness bug). */
export class CheckError extends Error {
  override name = "CheckError";
}

/** check throws CheckError with `message` unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckError(message);
}

/** checkEqual compares by JSON text, so objects and arrays compare by content. */
export function checkEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckError(`${what}: expected ${e}, got ${a}`);
}

/** show renders a value for a message, cut to a readable length. */
export function show(value: unknown, maxChars = 400): string {
  let text: string;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > maxChars ? `${text.slice(0, maxChars)}… (${text.length} chars)` : text;
}
