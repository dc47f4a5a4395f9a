// Per-inode locks for operations that must await between reading and writing
// (namespace operations need none: each is one synchronous headhunter
// transaction). FIFO, not reentrant; an entry exists only while the lock is
// held or awaited.

/** Mutual exclusion per key. */
export class KeyedMutex<K> {
  private readonly tails = new Map<K, Promise<void>>();

  /** Runs fn while holding the lock of `key`; waiters run in arrival order. */
  async run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev ? prev.then(() => mine) : mine;
    this.tails.set(key, tail);
    try {
      if (prev) await prev;
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** True while someone holds or waits for the lock of `key`. */
  busy(key: K): boolean {
    return this.tails.has(key);
  }

  get size(): number {
    return this.tails.size;
  }
}

/** Tracks background promises so that shutdown can wait for them. */
export class TaskSet {
  private readonly tasks = new Set<Promise<unknown>>();

  add<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    const done = (): void => {
      this.tasks.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /** Waits until no task is running (also tasks added while waiting). */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  get size(): number {
    return this.tasks.size;
  }
}
