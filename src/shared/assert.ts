/** AssertionError marks a broken invariant: a bug in qklzl, never a user error. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** assert crashes on a broken invariant; it turns a correctness bug into a loud liveness bug. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** unreachable marks a branch the type system proves impossible. */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
