// A linearizability checker for compare-and-set registers (Knossos-style: the Wing-Gong-Lowe search with
// memoization), for the histories of cas_register.test.ts. Each key is checked on its own (registers compose).
//
// An operation is invoked at `invoke` and completes at `complete` (ms, one clock). Its status:
// - ok: it took effect, exactly as recorded (a read returned `value`; a cas found `expected` and wrote `value`);
// - fail: it definitely did not take effect (a cas answered 412, a write refused before it was proposed);
// - info: unknown (a timeout, a broken connection): it may take effect at any time after `invoke`, or never.
// Written values are unique, so a read names the write it saw.

export type OpKind = "read" | "write" | "cas";
export type OpStatus = "ok" | "fail" | "info";

export interface RegisterOp {
  process: number;
  key: string;
  kind: OpKind;
  /** value: what a read returned (null: the key was absent), or what a write/cas writes. */
  value: string | null;
  /** expected: a cas's compare value (null: the key must be absent). */
  expected?: string | null;
  invoke: number;
  complete: number;
  status: OpStatus;
}

export interface CheckResult {
  ok: boolean;
  /** inconclusive: the search hit its budget (neither proven nor refuted). */
  inconclusive: boolean;
  ops: number;
  explored: number;
  /** problem: for a violation, the key and the operations nothing can explain. */
  problem: string | null;
}

const budget_default = 3_000_000;

/**
 * prepare keeps what constrains the register: ok ops, and info writes/cases whose value someone observed.
 * Failed ops and failed reads are dropped (they changed nothing; a failed cas is not used as evidence, which
 * keeps the pruning below sound). An info op whose written value no op reads or expects cannot explain any
 * observation: a linearization with it stays one without it, so it is dropped (Knossos does the same).
 */
function prepare(ops: RegisterOp[]): RegisterOp[] {
  const observed = new Set<string | null>();
  for (const op of ops) {
    if (op.kind === "read" && op.status === "ok") observed.add(op.value);
    if (op.kind === "cas" && op.status !== "fail") observed.add(op.expected ?? null);
  }
  return ops
    .filter((op) => op.status === "ok" || (op.status === "info" && op.kind !== "read" && observed.has(op.value)))
    .map((op) => (op.status === "info" ? { ...op, complete: Number.POSITIVE_INFINITY } : op))
    .sort((a, b) => a.invoke - b.invoke);
}

function step(op: RegisterOp, state: string | null): { legal: boolean; next: string | null } {
  if (op.kind === "read") return { legal: op.value === state, next: state };
  if (op.kind === "write") return { legal: true, next: op.value };
  return op.expected === state ? { legal: true, next: op.value } : { legal: false, next: state };
}

function describe(op: RegisterOp): string {
  const what = op.kind === "cas" ? `cas(${JSON.stringify(op.expected)} -> ${JSON.stringify(op.value)})` : `${op.kind}(${JSON.stringify(op.value)})`;
  const end = Number.isFinite(op.complete) ? op.complete.toFixed(1) : "?";
  return `p${op.process} ${what} ${op.status} [${op.invoke.toFixed(1)}, ${end}]`;
}

/** checkRegister searches for a linearization of one key's operations, starting from `initial`. */
export function checkRegister(all: RegisterOp[], initial: string | null = null, budget = budget_default): CheckResult {
  const ops = prepare(all);
  const n = ops.length;
  const required = ops.filter((op) => op.status === "ok").length;
  const done = new Uint8Array(n);
  const seen = new Set<string>();
  let explored = 0;
  let deepest = -1;
  let deepestDone: Uint8Array = done.slice();
  let inconclusive = false;

  const memoKey = (state: string | null) => {
    let bits = "";
    for (let i = 0; i < n; i += 16) {
      let word = 0;
      for (let j = i; j < Math.min(n, i + 16); j++) word = (word << 1) | done[j]!;
      bits += String.fromCharCode(word + 0x20);
    }
    return `${bits}|${state === null ? "\u0000" : state}`;
  };

  const search = (state: string | null, linearizedRequired: number): boolean => {
    if (linearizedRequired === required) return true;
    if (++explored > budget) {
      inconclusive = true;
      return false;
    }
    const key = memoKey(state);
    if (seen.has(key)) return false;
    seen.add(key);
    if (linearizedRequired > deepest) {
      deepest = linearizedRequired;
      deepestDone = done.slice();
    }
    // Only an op invoked before every pending op's completion can go next (real-time order).
    let horizon = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) if (done[i] === 0 && ops[i]!.complete < horizon) horizon = ops[i]!.complete;
    for (let i = 0; i < n; i++) {
      const op = ops[i]!;
      if (op.invoke > horizon) break;
      if (done[i] === 1) continue;
      const { legal, next } = step(op, state);
      if (!legal) continue;
      done[i] = 1;
      const found = search(next, linearizedRequired + (op.status === "ok" ? 1 : 0));
      done[i] = 0;
      if (found) return true;
      if (inconclusive) return false;
    }
    return false;
  };

  const ok = search(initial, 0);
  let problem: string | null = null;
  if (!ok && !inconclusive) {
    const stuck = ops.filter((op, i) => deepestDone[i] === 0 && op.status === "ok").slice(0, 4);
    problem = `key ${JSON.stringify(all[0]?.key ?? "")}: after ${deepest} of ${required} ok operations no next one is legal; pending: ${stuck.map(describe).join("; ")}`;
  }
  return { ok, inconclusive, ops: n, explored, problem };
}

/** checkHistory checks every key of a history; the first violation (or inconclusive key) is reported. */
export function checkHistory(ops: RegisterOp[]): { ok: boolean; inconclusive: boolean; problems: string[]; keys: number } {
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const problems: string[] = [];
  let inconclusive = false;
  for (const [key, list] of byKey) {
    const result = checkRegister(list);
    if (result.inconclusive) {
      inconclusive = true;
      problems.push(`key ${JSON.stringify(key)}: inconclusive after ${result.explored} states`);
    } else if (!result.ok) problems.push(result.problem!);
  }
  return { ok: problems.length === 0, inconclusive, problems, keys: byKey.size };
}
