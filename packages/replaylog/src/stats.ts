// Latency samples of the fdatasync calls that made batches durable, kept in a
// fixed ring so that percentiles reflect recent behaviour in bounded memory.

const RING = 4096;

export class LatencyRing {
  private readonly samples = new Float64Array(RING);
  private count = 0;

  add(micros: number): void {
    this.samples[this.count % RING] = micros;
    this.count++;
  }

  /** The q-quantile (0..1) of the recent samples in microseconds, 0 without samples. */
  quantile(q: number): number {
    const n = Math.min(this.count, RING);
    if (n === 0) return 0;
    const sorted = this.samples.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  }
}
