import { describe, expect, test } from "bun:test";
import { checkHistory, checkRegister, type RegisterOp } from "./cas_checker.ts";

// The CAS-register checker on small hand-made histories: it accepts the linearizable ones (concurrency,
// unknown outcomes) and refuses a stale read, a lost update (two cas from one value), and a read of a value
// that a failed write never wrote.

function op(process: number, kind: RegisterOp["kind"], value: string | null, invoke: number, complete: number, status: RegisterOp["status"] = "ok", expected?: string | null): RegisterOp {
  return { process, key: "k", kind, value, invoke, complete, status, ...(expected === undefined ? {} : { expected }) };
}

describe("CAS register checker", () => {
  test("sequential writes, cas and reads are linearizable", () => {
    const history = [op(1, "write", "a", 0, 1), op(1, "cas", "b", 2, 3, "ok", "a"), op(2, "read", "b", 4, 5), op(2, "cas", "c", 6, 7, "fail", "a")];
    expect(checkRegister(history).ok).toBe(true);
  });

  test("concurrent ops may take effect in either order", () => {
    // The read overlaps the write: it may see the value before or after.
    expect(checkRegister([op(1, "write", "a", 0, 10), op(2, "read", null, 1, 2)]).ok).toBe(true);
    expect(checkRegister([op(1, "write", "a", 0, 10), op(2, "read", "a", 1, 2)]).ok).toBe(true);
  });

  test("a stale read is refused: the write completed before the read began", () => {
    const result = checkRegister([op(1, "write", "a", 0, 1), op(1, "write", "b", 2, 3), op(2, "read", "a", 4, 5)]);
    expect(result.ok).toBe(false);
    expect(result.inconclusive).toBe(false);
    expect(result.problem).toContain('read("a")');
  });

  test("a lost update is refused: two successful cas from the same value", () => {
    const history = [op(1, "write", "a", 0, 1), op(1, "cas", "b", 2, 6, "ok", "a"), op(2, "cas", "c", 3, 7, "ok", "a")];
    expect(checkRegister(history).ok).toBe(false);
  });

  test("an unknown-outcome write may or may not have applied; a failed one never did", () => {
    const seen = [op(1, "write", "a", 0, 1), op(2, "write", "x", 2, 3, "info"), op(3, "read", "x", 10, 11)];
    expect(checkRegister(seen).ok).toBe(true);
    const unseen = [op(1, "write", "a", 0, 1), op(2, "write", "x", 2, 3, "info"), op(3, "read", "a", 10, 11)];
    expect(checkRegister(unseen).ok).toBe(true);
    const failed = [op(1, "write", "a", 0, 1), op(2, "write", "x", 2, 3, "fail"), op(3, "read", "x", 10, 11)];
    expect(checkRegister(failed).ok).toBe(false);
  });

  test("an info write takes effect after its invocation, not before", () => {
    const history = [op(1, "read", "x", 0, 1), op(2, "write", "x", 5, 6, "info")];
    expect(checkRegister(history).ok).toBe(false);
  });

  test("keys are checked separately; the problem names the key", () => {
    const other = (o: RegisterOp) => ({ ...o, key: "j" });
    const history = [op(1, "write", "a", 0, 1), other(op(2, "write", "b", 0, 1)), other(op(3, "read", null, 2, 3))];
    const result = checkHistory(history);
    expect(result.ok).toBe(false);
    expect(result.keys).toBe(2);
    expect(result.problems[0]).toContain('key "j"');
  });

  test("a few hundred concurrent ops from a correct register check quickly", () => {
    // A simulated atomic register: each op takes effect at a random instant inside its interval.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const events: Array<{ at: number; run: () => void }> = [];
    const history: RegisterOp[] = [];
    let state: string | null = null;
    for (let i = 0; i < 300; i++) {
      const invoke = i * 2 + random() * 4;
      const complete = invoke + 1 + random() * 6;
      const at = invoke + (complete - invoke) * random();
      const kind = (["read", "write", "cas"] as const)[Math.floor(random() * 3)]!;
      const record: RegisterOp = { process: i % 5, key: "k", kind, value: null, invoke, complete, status: "ok" };
      history.push(record);
      events.push({
        at,
        run: () => {
          if (kind === "read") record.value = state;
          else if (kind === "write") state = record.value = `w${i}`;
          else {
            record.expected = state;
            if (random() < 0.3) record.expected = "nope";
            record.value = `c${i}`;
            if (record.expected === state) state = record.value;
            else record.status = "fail";
          }
        },
      });
    }
    events.sort((a, b) => a.at - b.at).forEach((e) => e.run());
    const result = checkRegister(history);
    expect(result.ok).toBe(true);
    expect(result.explored).toBeLessThan(100_000);
  });
});
