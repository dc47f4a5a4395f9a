// Write-behind for one open file. FUSE 2 hands writes over 128 KiB at a time
// and the kernel waits for each answer before it sends the next, so a write
// that waited for its RPC would cap a stream at 128 KiB per round trip. Here a
// write is acknowledged once its bytes are copied and queued: contiguous
// writes are merged into one RPC of up to `chunkBytes`, and RPCs go out
// without waiting for each other (a write that overlaps one still in flight
// waits for it first, so the server applies overlapping bytes in order).
//
// The bytes queued by all open files together are bounded by a WriteBudget: a
// write waits for room, which is what slows a writer down to the speed of the
// server. A failed RPC is remembered and reported by the next write, flush,
// fsync or close (close(2) semantics, as NFS does); drain() waits for every
// queued byte and reports the failure once.

import type { Credentials } from '@cairn/rpc';

/** Sends one write RPC; resolves once the server acknowledged every byte. */
export type SendWrite = (offset: number, data: Buffer, cred: Credentials | undefined) => Promise<void>;

/** Bytes queued but not yet acknowledged by the server, shared by every open file of a mount. */
export class WriteBudget {
  private used = 0;
  private readonly waiters: Array<{ bytes: number; resolve: () => void }> = [];

  constructor(readonly limitBytes: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Waits until `bytes` fit (a request larger than the limit waits for an empty budget). */
  acquire(bytes: number): Promise<void> | undefined {
    if (this.waiters.length === 0 && (this.used + bytes <= this.limitBytes || this.used === 0)) {
      this.used += bytes;
      return undefined;
    }
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  release(bytes: number): void {
    this.used -= bytes;
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (this.used + w.bytes > this.limitBytes && this.used !== 0) break;
      this.waiters.shift();
      this.used += w.bytes;
      w.resolve();
    }
  }
}

interface Extent {
  readonly offset: number;
  readonly parts: Buffer[];
  length: number;
  readonly cred: Credentials | undefined;
}

interface InFlight {
  readonly start: number;
  readonly end: number;
  readonly done: Promise<void>;
}

export interface WriteBehindOptions {
  /** Largest write RPC (bytes); contiguous writes merge up to this. */
  readonly chunkBytes: number;
  /** A partly filled extent goes out after this long without a following write (ms). */
  readonly delayMs: number;
  /** False: every write waits for its RPC (append handles: the server picks the offset). */
  readonly enabled: boolean;
}

export class WriteBehind {
  private current: Extent | undefined;
  private readonly inflight = new Set<InFlight>();
  private failure: unknown;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly send: SendWrite,
    private readonly budget: WriteBudget,
    private readonly options: WriteBehindOptions,
  ) {}

  /** True while bytes are queued or in flight. */
  get busy(): boolean {
    return this.current !== undefined || this.inflight.size > 0;
  }

  /** The end of the furthest byte queued or in flight (0: none): the file is at least this long. */
  get pendingEnd(): number {
    let end = this.current ? this.current.offset + this.current.length : 0;
    for (const f of this.inflight) end = Math.max(end, f.end);
    return end;
  }

  /** Queues `data` (which the caller no longer touches) at `offset`; rejects with an earlier failure. */
  async write(offset: number, data: Buffer, cred: Credentials | undefined): Promise<void> {
    this.throwFailure();
    if (!this.options.enabled) {
      await this.settle();
      this.throwFailure();
      return this.send(offset, data, cred);
    }
    const wait = this.budget.acquire(data.length);
    if (wait) await wait;
    const cur = this.current;
    if (cur && offset === cur.offset + cur.length && cur.length + data.length <= this.options.chunkBytes && cur.cred === cred) {
      cur.parts.push(data);
      cur.length += data.length;
    } else {
      if (cur) this.dispatch();
      const end = offset + data.length;
      const overlapping = [...this.inflight].filter((f) => f.start < end && offset < f.end).map((f) => f.done);
      if (overlapping.length > 0) await Promise.all(overlapping);
      if (this.current) this.dispatch();
      this.current = { offset, parts: [data], length: data.length, cred };
    }
    if (this.current && this.current.length >= this.options.chunkBytes) {
      this.dispatch();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.dispatch();
      }, this.options.delayMs);
    }
  }

  /** Sends what is queued and waits for every RPC; rejects (once) with a failure since the last report. */
  async drain(): Promise<void> {
    await this.settle();
    this.throwFailure();
  }

  /** Sends what is queued and waits for every RPC, keeping a failure for the next report. */
  async settle(): Promise<void> {
    this.dispatch();
    while (this.inflight.size > 0) await Promise.all([...this.inflight].map((f) => f.done));
  }

  private dispatch(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const ext = this.current;
    if (!ext) return;
    this.current = undefined;
    const data = ext.parts.length === 1 ? ext.parts[0]! : Buffer.concat(ext.parts, ext.length);
    const rec: { start: number; end: number; done: Promise<void> } = { start: ext.offset, end: ext.offset + ext.length, done: Promise.resolve() };
    rec.done = this.send(ext.offset, data, ext.cred)
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.inflight.delete(rec);
        this.budget.release(ext.length);
      });
    this.inflight.add(rec);
  }

  private throwFailure(): void {
    if (this.failure === undefined) return;
    const err = this.failure;
    this.failure = undefined;
    throw err;
  }
}
