import { assert } from "../shared/assert.ts";
import type { Rand } from "./types.ts";

/** createRand is a seeded mulberry32 generator: the same seed always gives the same sequence. */
export function createRand(seed: number): Rand {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int(n: number): number {
      assert(Number.isInteger(n) && n > 0, `rand.int: n must be a positive integer, got ${n}`);
      return Math.floor(next() * n);
    },
  };
}
