// A byte budget with FIFO waiters: how the segment writer bounds the memory it
// holds for segments that are not durable yet.

import { cairnError } from '@cairn/errors';

export class ByteBudget {
  private usedBytes = 0;
  private readonly waiters: Array<{ n: number; resolve: () => void }> = [];

  constructor(readonly limit: number) {}

  get used(): number {
    return this.usedBytes;
  }

  get available(): number {
    return this.limit - this.usedBytes;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Takes n bytes if they are free and nobody waits before us. */
  tryAcquire(n: number): boolean {
    if (this.waiters.length > 0 || this.usedBytes + n > this.limit) return false;
    this.usedBytes += n;
    return true;
  }

  /** Takes n bytes (n <= limit), waiting in FIFO order until they are free. */
  acquire(n: number): Promise<void> {
    if (n > this.limit) throw cairnError('CAIRN_ERR_INTERNAL', `budget request ${n} exceeds limit ${this.limit}`);
    if (this.tryAcquire(n)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  release(n: number): void {
    this.usedBytes -= n;
    if (this.usedBytes < 0) throw cairnError('CAIRN_ERR_INTERNAL', 'byte budget released more than it gave');
    while (this.waiters.length > 0 && this.usedBytes + this.waiters[0]!.n <= this.limit) {
      const w = this.waiters.shift()!;
      this.usedBytes += w.n;
      w.resolve();
    }
  }
}
