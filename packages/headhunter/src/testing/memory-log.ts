// Test support (not exported by the package): an in-memory replay log with
// group-commit-like durability and crash simulation, and a Map-backed object
// store container factory for unit tests.

import { cairnError } from '@cairn/errors';
import type { MetaLog } from '../core.js';

interface Rec {
  readonly lsn: bigint;
  readonly payload: Buffer;
  durable: boolean;
}

/**
 * Records become durable in LSN order, all pending ones at once on the next
 * macrotask (one "group commit"). crash() returns the log a restart would
 * find: every durable record plus, optionally, a prefix of the pending ones.
 */
export class MemoryLog implements MetaLog {
  private records: Rec[] = [];
  private next: bigint;
  private oldest: bigint;
  private flushScheduled = false;
  private waiters: Array<() => void> = [];
  appends = 0;
  failNext: Error | undefined;

  constructor(records: Rec[] = [], next = 1n, oldest = 1n) {
    this.records = records;
    this.next = next;
    this.oldest = oldest;
  }

  get nextLsn(): bigint {
    return this.next;
  }

  get firstLsn(): bigint {
    return this.oldest;
  }

  append(payload: Uint8Array): Promise<bigint> {
    const lsn = this.next++;
    this.appends++;
    const rec: Rec = { lsn, payload: Buffer.from(payload), durable: false };
    this.records.push(rec);
    const fail = this.failNext;
    this.failNext = undefined;
    return new Promise<bigint>((resolve, reject) => {
      this.waiters.push(() => (fail ? reject(fail) : resolve(lsn)));
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          for (const r of this.records) r.durable = true;
          const w = this.waiters;
          this.waiters = [];
          for (const f of w) f();
        });
      }
    });
  }

  async *replay(afterLsn: bigint): AsyncGenerator<{ lsn: bigint; payload: Buffer }> {
    if (afterLsn + 1n < this.oldest) throw cairnError('CAIRN_ERR_LOG_CORRUPT', `log starts at lsn ${this.oldest}`);
    for (const r of [...this.records]) if (r.lsn > afterLsn) yield { lsn: r.lsn, payload: r.payload };
  }

  async discardThrough(lsn: bigint): Promise<void> {
    this.records = this.records.filter((r) => r.lsn > lsn);
    if (lsn + 1n > this.oldest) this.oldest = lsn + 1n;
    if (lsn >= this.next) this.next = lsn + 1n;
  }

  liveBytes(): number {
    let n = 0;
    for (const r of this.records) n += r.payload.length + 16;
    return n;
  }

  /** Removes the i-th record held (simulates a log that lost a record in the middle). */
  dropRecord(i: number): void {
    this.records.splice(i, 1);
  }

  /** Records held now (durable or not). */
  get size(): number {
    return this.records.length;
  }

  /** The log as a restart after kill -9 finds it: durable records and `extraPending` of the pending ones. */
  crash(extraPending = 0): MemoryLog {
    const kept: Rec[] = [];
    let extra = extraPending;
    for (const r of this.records) {
      if (r.durable) kept.push({ ...r });
      else if (extra-- > 0) kept.push({ ...r, durable: true });
      else break;
    }
    const last = kept.length > 0 ? kept[kept.length - 1]!.lsn : this.oldest - 1n;
    return new MemoryLog(kept, last + 1n, this.oldest);
  }
}
