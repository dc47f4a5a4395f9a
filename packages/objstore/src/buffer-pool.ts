// A pool of large buffers for reuse, by size. A fresh large buffer costs more
// than a copy into it: the kernel faults in and zeroes its pages, and every new
// backing store is external memory whose growth makes V8 collect more often. A
// process writing segment after segment would pay that for every byte it
// moves; with a pool it pays it once. The pool keeps at most `maxBytes` and is
// emptied (left to the garbage collector) by a check every `idleMs` that finds
// nothing was taken since the previous check, so an idle process does not keep
// the memory for longer than 2 × idleMs.

export class BufferPool {
  private readonly lists = new Map<number, Buffer[]>();
  private bytes = 0;
  private taken = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly idleMs: number,
  ) {}

  /** A buffer of `size` bytes from the pool, or a new one; its content is unspecified. */
  take(size: number): Buffer {
    const b = this.lists.get(size)?.pop();
    if (b === undefined) return Buffer.allocUnsafeSlow(size);
    this.bytes -= size;
    this.taken = true;
    return b;
  }

  /** Hands a buffer back (dropped when the pool is full); nothing may use it afterwards. */
  give(b: Buffer): void {
    if (this.bytes + b.length > this.maxBytes) return;
    let list = this.lists.get(b.length);
    if (list === undefined) {
      list = [];
      this.lists.set(b.length, list);
    }
    list.push(b);
    this.bytes += b.length;
    if (this.timer === undefined) {
      this.taken = false;
      this.timer = setInterval(() => this.checkIdle(), this.idleMs);
      this.timer.unref();
    }
  }

  /** Bytes the pool holds. */
  get size(): number {
    return this.bytes;
  }

  /** True when `b` is a view into a buffer the pool holds. */
  holds(b: Buffer): boolean {
    for (const list of this.lists.values()) if (list.some((x) => x.buffer === b.buffer)) return true;
    return false;
  }

  /** The periodic check: empties the pool when nothing was taken since the last one. */
  checkIdle(): void {
    if (this.taken) {
      this.taken = false;
      return;
    }
    this.clear();
  }

  clear(): void {
    this.lists.clear();
    this.bytes = 0;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
