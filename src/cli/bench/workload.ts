/** BenchOp is one kind of request the load generator sends. */
export type BenchOp = "put" | "get";

export interface Workload {
  keys: number;
  valueSize: number;
  /** mix: weights per op, e.g. {put: 80, get: 20}. */
  mix: Record<BenchOp, number>;
  consistency: "linearizable" | "stale";
}

/** parseMix reads "put:80,get:20" (weights need not sum to 100). */
export function parseMix(text: string): Record<BenchOp, number> {
  const mix: Record<BenchOp, number> = { put: 0, get: 0 };
  for (const part of text.split(",")) {
    const [name, weight] = part.split(":");
    const value = Number(weight ?? "1");
    if ((name !== "put" && name !== "get") || !Number.isFinite(value) || value < 0) {
      throw new Error(`bad --mix part "${part}": expected put:N or get:N`);
    }
    mix[name] = value;
  }
  if (mix.put + mix.get <= 0) throw new Error("--mix needs a positive weight");
  return mix;
}

/** keyName gives the same key space as the wrk scripts in shared/bench (bench-key-%08d). */
export function keyName(index: number): string {
  return `bench-key-${String(index).padStart(8, "0")}`;
}

/** pickOp draws an op by weight from a uniform random number in [0, 1). */
export function pickOp(mix: Record<BenchOp, number>, uniform: number): BenchOp {
  return uniform * (mix.put + mix.get) < mix.put ? "put" : "get";
}
