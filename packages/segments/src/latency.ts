// A small latency recorder: keeps the most recent samples for percentiles.

import type { LatencyStats } from './types.js';

export class LatencyRecorder {
  private readonly samples: number[] = [];
  private next = 0;
  private count = 0;
  private sum = 0;
  private max = 0;

  constructor(private readonly keep = 1024) {}

  add(ms: number): void {
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (this.samples.length < this.keep) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.keep;
  }

  stats(): LatencyStats {
    if (this.count === 0) return { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
    const s = [...this.samples].sort((a, b) => a - b);
    const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
    return { count: this.count, meanMs: this.sum / this.count, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: this.max };
  }
}
