// One line of the read cache: a fixed-size slice of an immutable object, filled
// in place by the GET that fetches it (one GET may fill many consecutive lines).
// Its buffer is a slab the cache recycles from evicted lines, so a long read
// does not make garbage (body chunks die young; slabs live on). Readers wait
// for the bytes they need, not for the whole line, so the first bytes of a
// stream reach their reader while the rest are still arriving.

import type { Stream } from './read-ahead.js';

interface Waiter {
  readonly end: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class Line {
  /** The slab holding the bytes (from the GET's answer on). */
  slab: Buffer | undefined = undefined;
  /** Bytes filled so far. */
  filled = 0;
  /** Every byte is in (the line may be shorter than expected at the end of the object). */
  done = false;
  failed = false;
  error: unknown = undefined;
  /** Reads copying out of this line right now: never evicted while > 0. */
  users = 0;
  /** Taken out of the cache (evicted, invalidated, failed): no longer accounted. */
  dropped = false;
  private waiters: Waiter[] = [];

  constructor(
    readonly key: string,
    readonly index: number,
    /** Bytes accounted for the line: the expected length, then the real one. */
    public length: number,
    /** Fetched ahead of a reader and not used yet. */
    public readAhead: boolean,
    /** The sequential stream that fetched it ahead, if any. */
    readonly stream: Stream | undefined,
  ) {}

  /** Resolves once bytes [0, end) are in, or the line is complete (possibly shorter). Undefined: already so. */
  until(end: number): Promise<void> | undefined {
    if (this.failed) return Promise.reject(this.error);
    if (this.done || this.filled >= end) return undefined;
    return new Promise((resolve, reject) => this.waiters.push({ end, resolve, reject }));
  }

  /** The GET answered: the line holds `length` bytes (0: it lies past the end of the object), in `slab`. */
  start(length: number, slab: Buffer | undefined): void {
    this.length = length;
    this.slab = slab;
    if (length === 0) this.finish();
  }

  /** Copies the bytes of `chunk` from `at` that belong to the line; returns how many. */
  fill(chunk: Buffer, at: number): number {
    const n = Math.min(chunk.length - at, this.length - this.filled);
    chunk.copy(this.slab!, this.filled, at, at + n);
    this.filled += n;
    if (this.filled === this.length) this.finish();
    else this.wake();
    return n;
  }

  /** Copies bytes [from, to) of the line (filled already) into target at `at`. */
  copyTo(target: Buffer, at: number, from: number, to: number): void {
    this.slab!.copy(target, at, from, to);
  }

  finish(): void {
    this.done = true;
    this.wake();
  }

  fail(err: unknown): void {
    if (this.done || this.failed) return;
    this.failed = true;
    this.error = err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.done || this.filled >= w.end) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
