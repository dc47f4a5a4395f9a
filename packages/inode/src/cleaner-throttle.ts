// Pacing of background jobs (the segment cleaner, the orphan sweep): a token
// bucket that limits a rate (bytes per second, or deletions per second), a
// pause switch, and cancellation through an AbortSignal. Every unit of work
// calls take(n) first; take() waits while paused, then until the bucket holds
// n tokens, and rejects with CAIRN_ERR_CANCELED once the signal aborted.

import { cairnError } from '@cairn/errors';

export interface ThrottleOptions {
  /** Units per second (Infinity or undefined: no limit). */
  readonly rate?: number;
  /** Units the bucket holds at most (default: a tenth of a second's worth, at least 1). */
  readonly burst?: number;
  readonly signal?: AbortSignal;
  /** Clock in ms (tests). */
  readonly now?: () => number;
  /** Waits ms unless the signal aborts first (tests may advance a fake clock instead). */
  readonly sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

function realSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The error take() and check() reject with after the signal aborted. */
export function canceled(signal: AbortSignal | undefined, what: string): Error {
  const reason: unknown = signal?.reason;
  return cairnError('CAIRN_ERR_CANCELED', what, reason instanceof Error ? { cause: reason } : {});
}

/** A token bucket with pause and cancel. Not shared between jobs. */
export class Throttle {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;
  private isPaused = false;
  private resumed: { promise: Promise<void>; resolve: () => void } | undefined;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  private readonly signal: AbortSignal | undefined;

  constructor(o: ThrottleOptions = {}) {
    const rate = o.rate ?? Infinity;
    if (!(rate > 0)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `throttle rate ${String(o.rate)} (must be > 0)`);
    this.rate = rate;
    const burst = o.burst ?? (Number.isFinite(rate) ? Math.max(1, rate / 10) : Infinity);
    if (!(burst > 0)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `throttle burst ${String(o.burst)} (must be > 0)`);
    this.burst = burst;
    this.tokens = Number.isFinite(burst) ? burst : 0;
    this.now = o.now ?? (() => performance.now());
    this.sleep = o.sleep ?? realSleep;
    this.signal = o.signal;
    this.last = this.now();
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** Stops handing out tokens until resume(); a take() under way finishes its wait first. */
  pause(): void {
    if (this.isPaused) return;
    this.isPaused = true;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.resumed = { promise, resolve };
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.last = this.now(); // a pause does not earn tokens
    this.resumed?.resolve();
    this.resumed = undefined;
  }

  /** Throws CAIRN_ERR_CANCELED when the signal aborted. */
  check(what = 'job'): void {
    if (this.signal?.aborted) throw canceled(this.signal, what);
  }

  /**
   * Waits until n units may be spent: while paused, then for the bucket. A take
   * larger than the burst is allowed (the bucket goes into debt and the next
   * takes wait it off), so the long-run rate holds for any unit size.
   */
  async take(n: number, what = 'job'): Promise<void> {
    if (!(n >= 0)) throw cairnError('CAIRN_ERR_INVALID_ARGUMENT', `throttle take ${n}`);
    for (;;) {
      this.check(what);
      if (!this.isPaused) break;
      await this.waitResumed();
    }
    if (!Number.isFinite(this.rate)) return;
    this.refill();
    this.tokens -= n;
    while (this.tokens < 0) {
      await this.sleep(Math.ceil((-this.tokens / this.rate) * 1000), this.signal);
      this.check(what);
      this.refill();
    }
  }

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last);
    this.last = t;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.rate);
  }

  private waitResumed(): Promise<void> {
    const p = this.resumed?.promise ?? Promise.resolve();
    const signal = this.signal;
    if (signal === undefined) return p;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      void p.then(done);
    });
  }
}
