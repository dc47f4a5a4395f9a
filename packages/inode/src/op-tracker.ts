// OpTracker: the filesystem's running calls — unmount waits until none runs —
// and their outcomes (stats). Each call costs one promise reaction with
// callbacks made once, nothing else: getattr runs hundreds of thousands of
// times a second.

export class OpTracker {
  started = 0;
  failed = 0;
  running = 0;
  private waiters: Array<() => void> = [];
  private readonly ok = (): void => {
    this.end();
  };
  private readonly fail = (): void => {
    this.failed++;
    this.end();
  };

  /** Counts `p` as running until it settles; returns it. */
  add<T>(p: Promise<T>): Promise<T> {
    this.started++;
    this.running++;
    p.then(this.ok, this.fail);
    return p;
  }

  /** Resolves once no call runs (calls added meanwhile included). */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private end(): void {
    if (--this.running > 0 || this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
