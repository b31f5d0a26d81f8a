/**
 * SimRng is the harness's own seeded generator (mulberry32, like the core's but a separate stream):
 * every choice the simulator makes (delays, faults, clients) comes from it, so a seed replays a run.
 */
export class SimRng {
  private state: number;

  constructor(seed: number) {
    // Scramble the seed so that neighbouring seeds start far apart.
    this.state = (Math.imul(seed >>> 0, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
  }

  /** next returns a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** int returns an integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** between returns an integer in [lo, hi], both inclusive. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("SimRng.pick: empty list");
    return items[this.int(items.length)] as T;
  }

  /** shuffle permutes `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** seed32 draws a fresh 32-bit seed, e.g. for one incarnation of a core's Rand. */
  seed32(): number {
    return this.int(0x100000000) >>> 0;
  }
}
