/**
 * LatencyRecorder keeps every sample (bounded by samplesMax) so that percentiles are exact; a bench run is
 * bounded in time, and 5M samples (40 MB) covers well over a minute at the rates this machine reaches.
 */
export class LatencyRecorder {
  private samples: Float64Array;
  private count = 0;
  dropped = 0;

  constructor(readonly samplesMax = 5_000_000) {
    this.samples = new Float64Array(Math.min(samplesMax, 65_536));
  }

  record(latencyMs: number): void {
    if (this.count === this.samples.length) {
      if (this.count >= this.samplesMax) {
        this.dropped++;
        return;
      }
      const grown = new Float64Array(Math.min(this.samplesMax, this.samples.length * 2));
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = latencyMs;
  }

  get size(): number {
    return this.count;
  }

  forEach(visit: (latencyMs: number) => void): void {
    for (let i = 0; i < this.count; i++) visit(this.samples[i]!);
  }

  summary(): LatencySummary {
    const sorted = this.samples.slice(0, this.count).sort();
    const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted.length === 0 ? 0 : sorted[sorted.length - 1]! };
  }
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}
