/** HashSample: the state hash right after applying `index` (the store at `revision`). */
export interface HashSample {
  index: number;
  revision: number;
  hash: string;
}

/**
 * hash_sample_every: a sample is taken after every index that is a multiple of it, so members that applied
 * the same entries hold samples at the same indexes and the periodic corruption check can compare them at a
 * common point without stopping anyone (src/node/corruption_check.ts). The state hash is kept up to date on
 * every write (kv/hash.ts), so a sample costs one small hash every this many entries.
 */
export const hash_sample_every = 16;

/** hash_samples_max: samples kept (a window of hash_sample_every × this many entries, 1024). */
export const hash_samples_max = 64;

/** HashSamples is a ring of the newest samples; local to a member (not replicated), emptied by a restore. */
export class HashSamples {
  private samples: HashSample[] = [];

  /** due: `index` is a sampling point. */
  static due(index: number): boolean {
    return index % hash_sample_every === 0;
  }

  record(sample: HashSample): void {
    this.samples.push(sample);
    if (this.samples.length > hash_samples_max) this.samples.shift();
  }

  /** list: oldest first. */
  list(): HashSample[] {
    return [...this.samples];
  }

  clear(): void {
    this.samples = [];
  }
}
